"""Finding a contact in a real browser: search as you type, open the timeline, read the header's state."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import PHONE, AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES

pytestmark = pytest.mark.browser

ORG = "northwind"
AXE_RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
TAP_TARGET_PX = 44


def blocked_or_unsubscribed_contact(app_server: AppServer) -> dict[str, Any]:
    """A demo contact of ORG that is blocked or unsubscribed now, with its e-mail and latest state events,
    read straight from the demo Invent's database."""
    code = (
        "import json\n"
        "from timeline_site.demo_invent.models import DemoContact, Behaviour\n"
        f"contacts = DemoContact.objects.filter(org_id={ORG!r}, behaviour=Behaviour.NORMAL).order_by('contact_id')\n"
        "def latest(c, *types):\n"
        "    row = c.activities.filter(type__in=types).order_by('-created_at', '-activity_id').first()\n"
        "    return row and {'id': row.activity_id, 'type': row.type, 'at': row.created_at.isoformat()}\n"
        "for c in contacts:\n"
        "    email = next((ch.get('email') for ch in c.data.get('channels') or [] if ch.get('email')), None)\n"
        "    if email and '<' not in email and c.data.get('blocked') and c.data.get('unsubscribed'):\n"
        "        print(json.dumps({'id': c.contact_id, 'name': c.data.get('name'), 'email': email,\n"
        "            'block': latest(c, 'contact_blocked', 'contact_unblocked'),\n"
        "            'blocked_by': latest(c, 'contact_blocked'),\n"
        "            'subscription': latest(c, 'contact_unsubscribed', 'contact_resubscribed'),\n"
        "            'unsubscribed_by': latest(c, 'contact_unsubscribed')}))\n"
        "        break\n"
    )
    return dict(json.loads(app_server.manage("shell", "-c", code).strip().splitlines()[-1]))


def results(page: Page) -> list[str]:
    return list(page.eval_on_selector_all("#results [data-contact-id]", "els => els.map(e => e.dataset.contactId)"))


def test_search_an_email_open_the_contact_and_the_header_agrees_with_its_latest_events(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    contact = blocked_or_unsubscribed_contact(app_server)
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto("/")
    page.get_by_label("Organisation").select_option(ORG)
    page.get_by_label("E-mail, name or phone").press_sequentially(contact["email"], delay=40)
    page.wait_for_url(re.compile(r"[?&]q=" + re.escape(contact["email"].replace("@", "%40")) + "$"))
    expect(page.locator(f'#results [data-contact-id="{contact["id"]}"]')).to_be_visible()
    page.wait_for_function("() => !document.querySelector('#find.htmx-request')")
    assert results(page) == [contact["id"]]
    screenshot(page, "find-results-desktop")

    page.locator("#results").get_by_role("link", name=contact["name"]).click()
    page.wait_for_url(re.compile(rf"/orgs/{ORG}/contacts/{contact['id']}/$"))
    expect(page.locator(ARTICLES).first).to_be_visible()
    header = page.locator("header.contact-header")

    # The header's state is the one the latest block/unblock and unsubscribe/resubscribe events left; since
    # when and by whom come after the page, with its spans (the spans request).
    for status, latest, opener in (
        ("blocked", contact["block"], contact["blocked_by"]),
        ("unsubscribed", contact["subscription"], contact["unsubscribed_by"]),
    ):
        badge = header.locator(f".badge-{status}")
        line = header.locator(f'[data-status="{status}"]')
        if latest["type"] in ("contact_blocked", "contact_unsubscribed"):
            expect(badge).to_have_count(1)
            expect(line).to_have_attribute("data-since", re.compile(r"."))
            since = line.get_attribute("data-since")
            assert since and datetime.fromisoformat(since) == datetime.fromisoformat(opener["at"])
            card = page.locator(f'article[data-activity-id="{opener["id"]}"] .span-note')
            expect(card).to_have_text(f"Still {status}")
        else:
            expect(badge).to_have_count(0)
            expect(line).to_have_count(0)

    # Copy buttons put the address on the clipboard and say so.
    copy = header.locator(f'.contact-reach button[data-copy="{contact["email"]}"]')  # the one in sight
    copy.click()
    expect(copy.locator(".copy-label")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == contact["email"]
    screenshot(page, "contact-header-desktop")
    watch.assert_clean()


def test_a_slow_stale_answer_never_replaces_a_newer_one(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    # Searches queue (hx-sync "queue last") rather than abort: an aborted request is
    # logged as a console error by htmx, and a queued one can only ever be older.
    page = open_page()
    held: list[Route] = []
    page.route(lambda url: "q=zz" in url, lambda route: held.append(route))  # the first search hangs
    page.goto(f"/?org={ORG}")
    box = page.get_by_label("E-mail, name or phone")
    box.press_sequentially("zz", delay=20)
    page.wait_for_function("() => document.querySelector('#find.htmx-request')")
    for _ in range(50):  # the route handler runs when Playwright next dispatches events: wait for it (bounded)
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the first search was not sent"
    box.fill("ada@")
    page.wait_for_timeout(600)  # the newer search is typed and debounced while the old one hangs
    for route in held:  # now the stale answer arrives, late
        route.fulfill(status=200, content_type="text/html", body='<p data-results-count="0">stale</p>')
    expect(page.locator('#results [data-contact-id="ct_ada"]')).to_be_visible()
    page.wait_for_timeout(500)
    assert results(page) == ["ct_ada"] and "stale" not in page.locator("#results").inner_text()
    assert page.url.endswith("q=ada%40")
    watch.assert_clean()


def test_find_works_without_javascript(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_page(java_script_enabled=False)
    page.goto("/")
    page.get_by_label("Organisation").select_option("northwind-emea")
    page.get_by_label("E-mail, name or phone").fill("bruno")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert "org=northwind-emea" in page.url and "q=bruno" in page.url
    assert results(page) == ["ct_bruno"]
    page.locator("#results").get_by_role("link", name="Bruno Silva").click()
    page.wait_for_url(re.compile(r"/orgs/northwind-emea/contacts/ct_bruno/$"))
    watch.assert_clean()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_find_page_is_accessible_and_fits_a_phone(
    phone: bool, app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page(phone=phone)
    page.goto(app_server.timeline_url(ORG, "ct_ada"))  # so that "Recently viewed" has an entry
    page.goto(f"/?org={ORG}&q=ada")
    expect(page.locator('#results [data-contact-id="ct_ada"]')).to_be_visible()
    expect(page.locator("[data-recent]").first).to_be_visible()
    results_axe = Axe().run(page, options=AXE_RULES)
    assert results_axe.violations_count == 0, json.dumps(results_axe.response["violations"], indent=1)[:3000]
    if phone:
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the find page scrolls sideways on a phone: {width}px wide"
        for selector in ("#find-org", "#find-q", "#find button[type=submit]", ".result-link", "[data-recent] a"):
            box = page.locator(selector).first.bounding_box()
            assert box and box["height"] >= TAP_TARGET_PX, (selector, box)
    screenshot(page, f"find-{'phone' if phone else 'desktop'}", full_page=True)
    watch.assert_clean()
