"""The dashboard inside a CRM, in a real browser: the compact layout in a narrow side panel, and a CRM page
that frames the lookup link, signs in inside the frame and lands on the timeline."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Frame, Page, Route, expect

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage, free_port, gunicorn_serving
from tests.browser.pages import ARTICLES

pytestmark = pytest.mark.browser

AXE_RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
SIDE_PANEL = {"width": 360, "height": 600}
ADA_LOOKUP = "/orgs/northwind/lookup/?email=ada%40analytical.example"
ADA = "/orgs/northwind/contacts/ct_ada/"


def _axe_clean(page: Page) -> None:
    results = Axe().run(page, options=AXE_RULES)
    assert results.violations_count == 0, json.dumps(results.response["violations"], indent=1)[:3000]


def _fits_the_panel(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= SIDE_PANEL["width"], f"the page is {width}px wide in a {SIDE_PANEL['width']}px panel"


# --- ?embed=1 in a narrow window ---------------------------------------------------------------


def test_a_lookup_link_with_embed_opens_the_compact_timeline(
    open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.set_viewport_size(SIDE_PANEL)
    page.goto(f"{ADA_LOOKUP}&embed=1")
    expect(page).to_have_url(re.compile(re.escape(ADA) + r"\?embed=1$"))
    expect(page.locator(ARTICLES).first).to_be_visible()
    screenshot(page, "embed-timeline-360")
    expect(page.locator("html")).to_have_class("embed")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("link", name="Open in a new tab")).to_be_visible()
    expect(page.get_by_role("link", name="Find a contact")).to_be_visible()
    expect(page.locator(".contact-header .back-link")).to_be_hidden()  # the bar above has it
    # The header leaves the panel room for the timeline: the first card starts on the first screen.
    assert page.locator(ARTICLES).first.bounding_box()["y"] < SIDE_PANEL["height"]  # type: ignore[index]
    _fits_the_panel(page)
    _axe_clean(page)
    watch.assert_clean()


def test_the_find_page_of_an_unknown_address_in_embed_mode(
    open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.set_viewport_size(SIDE_PANEL)
    page.goto("/orgs/northwind/lookup/?email=nobody%2Bcrm%40example.org&embed=1")
    expect(page).to_have_url(re.compile(r"/lookup/"))
    expect(page.get_by_label("E-mail, name or phone")).to_have_value("nobody+crm@example.org")
    expect(page.locator("[data-lookup=none]")).to_contain_text("No contact in")
    expect(page.locator(".topbar")).to_be_hidden()
    _fits_the_panel(page)
    screenshot(page, "embed-lookup-none-360")
    _axe_clean(page)
    watch.assert_clean()


def test_the_full_tab_link_opens_the_ordinary_dashboard_in_a_new_tab(open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_page()
    page.set_viewport_size(SIDE_PANEL)
    page.goto(f"{ADA}?embed=1")
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open in a new tab").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.endswith(ADA)
    expect(tab.locator(".topbar")).to_be_visible()
    expect(tab.locator("html")).not_to_have_class("embed")
    watch.assert_clean()


def test_without_embed_the_site_bar_stays(open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_page(phone=True)  # a phone is not a CRM: sign-out stays on the screen
    page.goto(ADA)
    expect(page.locator(".topbar")).to_be_visible()
    expect(page.locator(".embed-bar")).to_be_hidden()
    watch.assert_clean()


# --- A CRM page that frames the dashboard --------------------------------------------------------


CRM_PORT = free_port()  # nothing listens there: Playwright answers for the CRM
CRM = f"http://127.0.0.1:{CRM_PORT}"
# The CRM page comes from Playwright, not from an address the browser knows to be local, so Chrome's
# Local Network Access checks would block its frame of a loopback address without this grant.
LNA = ["local-network-access"]


@pytest.fixture(scope="module")
def framed_server(app_server: AppServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gunicorn over the session's database that lets the CRM (and nothing else) frame it.

    The CRM and the dashboard are both on 127.0.0.1 (one site, two origins): over plain HTTP the
    cookies are SameSite=Lax, which a same-site frame keeps. Cross-site frames need HTTPS and
    SameSite=None (tests/test_embed.py checks those headers)."""
    port = free_port()
    env = {**app_server.env, "DJANGO_FRAME_ANCESTORS": CRM}
    with gunicorn_serving(env, port=port, log_path=tmp_path_factory.mktemp("framed-app") / "gunicorn.log"):
        yield f"http://127.0.0.1:{port}"


def _crm_page(page: Page, frame_src: str, *, origin: str = CRM) -> Frame:
    """A CRM record page with the dashboard in a 360px side panel; returns the panel's frame."""
    record = (
        "<!doctype html><html lang='en'><head><title>CRM record</title></head><body>"
        "<main><h1>Ada Lovelace</h1>"
        f"<iframe name='panel' title='Contact timeline' src='{frame_src}' width='360' height='600'></iframe>"
        "</main></body></html>"
    )
    page.route(f"{origin}/**", lambda route: route.fulfill(status=200, content_type="text/html", body=record))
    page.goto(f"{origin}/record/42")
    frame = page.frame(name="panel")
    assert frame is not None
    return frame


def test_inside_a_crm_frame_sign_in_then_the_lookup_lands_on_the_compact_timeline(
    framed_server: str, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    # The shortcuts dialog's Close button has `autofocus`; a cross-origin frame may not take focus on
    # load and Chrome logs that (harmless: the dialog focuses it when opened).
    watch.allow(r"^Blocked autofocusing on a <button> element in a cross-origin subframe")
    page = open_page(signed_in=False, permissions=LNA)  # no session yet
    frame = _crm_page(page, f"{framed_server}{ADA_LOOKUP}&type=note_created")
    panel = page.frame_locator("iframe[name=panel]")
    panel.get_by_label("User name").fill("demo")
    panel.get_by_label("Password").fill("demo")
    panel.get_by_role("button", name="Sign in").click()
    expect(panel.locator(ARTICLES).first).to_be_visible()
    assert frame.url == f"{framed_server}{ADA}?type=note_created"
    assert set(frame.eval_on_selector_all(ARTICLES, "els => els.map(e => e.dataset.activityType)")) == {"note_created"}
    expect(panel.locator("html")).to_have_class("embed")  # no ?embed=1: the browser said "iframe"
    expect(panel.locator(".topbar")).to_be_hidden()
    # The dashboard's own links stay in the frame (links out open a tab: tests/test_embed.py checks each).
    panel.get_by_role("link", name="Find a contact").click()
    expect(panel.get_by_role("heading", name="Find a contact")).to_be_visible()
    expect(panel.locator(".topbar")).to_be_hidden()
    assert page.url == f"{CRM}/record/42"
    screenshot(page, "embed-crm-frame")
    watch.assert_clean()


def test_the_script_finds_the_frame_when_the_server_could_not(
    framed_server: str, open_page: OpenPage, watch: BrowserWatch
) -> None:
    """Browsers that do not say "iframe" (Sec-Fetch-Dest) get the page without the class: app.js adds it."""
    page = open_page(signed_in=False, permissions=LNA)

    def without_the_class(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace('<html lang="en" class="embed">', '<html lang="en">')
        route.fulfill(response=response, body=body)

    page.route(f"{framed_server}/accounts/login/**", without_the_class)
    _crm_page(page, f"{framed_server}/accounts/login/")
    panel = page.frame_locator("iframe[name=panel]")
    expect(panel.get_by_role("button", name="Sign in")).to_be_visible()
    expect(panel.locator("html")).to_have_class("embed")
    expect(panel.locator(".topbar")).to_be_hidden()
    watch.assert_clean()


def test_a_crm_that_is_not_listed_cannot_frame_the_dashboard(
    framed_server: str, open_page: OpenPage, watch: BrowserWatch
) -> None:
    watch.allow(r"frame-ancestors")
    page = open_page(signed_in=False, permissions=LNA)
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text) if "frame-ancestors" in message.text else None)
    other = f"http://127.0.0.1:{free_port()}"
    frame = _crm_page(page, f"{framed_server}/accounts/login/", origin=other)
    for _ in range(50):  # the refusal is logged once the frame's answer is in
        if refusals:
            break
        page.wait_for_timeout(100)
    assert frame.locator("#id_username").count() == 0  # the browser refused to show it, because of CSP:
    assert any(f'"frame-ancestors {CRM}"' in text and "blocked" in text for text in refusals), refusals
    watch.assert_clean()
