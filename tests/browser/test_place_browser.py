"""Finding your place in a real browser: a permalink 230 deep with the newer activities loading above it, the
divider after what is new since the last visit, new activity arriving while the page is open, and the keys."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES, article_ids, load_next_page, wait_idle
from tests.browser.test_layout import AXE_RULES, _describe
from tests.browser.test_paging import _DOM_PROBLEMS

pytestmark = pytest.mark.browser

ORG = "northwind"
# Contacts this module changes; no other test uses them (see conftest.py).
LIVE_CONTACT = (ORG, "ct_kwame")  # padded, then gets three new activities while its timeline is open
VISITED_CONTACT = ("northwind-emea", "ct_chiara")  # visited twice, with two new activities in between
CACHE_SECONDS = 15  # INVENT_CACHE_SECONDS of the test server: how long a page read stays the same

_RECT = "el => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; }"
_FOCUSED_ID = "() => document.activeElement && document.activeElement.dataset.activityId || null"


def _assert_axe_clean(page: Page) -> None:
    results = Axe().run(page, options=AXE_RULES)
    assert results.violations_count == 0, "axe:\n" + _describe(results.response["violations"])


def _positions(page: Page) -> list[int]:
    return list(page.eval_on_selector_all(ARTICLES, "els => els.map(e => Number(e.getAttribute('aria-posinset')))"))


def _permalink_of(page: Page, index: int) -> str:
    """The href of the `index`-th card's Link, loading pages until it is there."""
    while page.locator(ARTICLES).count() <= index:
        load_next_page(page)
    return str(page.locator(ARTICLES).nth(index).locator("a[data-permalink]").get_attribute("href"))


def test_a_permalink_230_deep_opens_marked_and_scrolling_up_loads_the_229_newer_in_order(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    expected = app_server.upstream_ids(ORG, "ct_heavy")
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    link = _permalink_of(page, 229)
    assert f"entry={expected[229]}" in link and link.endswith("#place")

    # Hold the first page above, so the marked card can be measured before it comes in.
    held: list[Route] = []

    def above(url: str) -> bool:
        return "newer=" in url and "/spans/" not in url

    def hold(route: Route) -> None:
        held.append(route)

    page.route(above, hold)
    page.goto(app_server.base_url + link)
    marked = page.locator("article[aria-current='true']")
    expect(marked).to_have_count(1)
    assert marked.get_attribute("data-activity-id") == expected[229]
    assert marked.get_attribute("aria-posinset") == "230"
    expect(marked).to_be_in_viewport()
    expect(marked).to_be_focused()
    assert article_ids(page)[:50] == expected[229:279]
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the page above was not asked for although the entry's top is in view"
    content = marked.locator(":scope > .card")  # what is read (a day header above it may go: its day now starts above)
    before = content.evaluate(_RECT)
    screenshot(page, "permalink-230-desktop")
    _assert_axe_clean(page)
    held[0].continue_()
    page.unroute(above, hold)
    page.wait_for_function("() => document.querySelectorAll('article[data-activity-id]').length > 50")
    wait_idle(page)
    after = content.evaluate(_RECT)
    assert abs(after["top"] - before["top"]) < 1, f"the marked card moved from {before} to {after}"

    # Scrolling up loads the newer ones above, page by page, up to the newest.
    for _ in range(20):
        if page.locator("#feed-top[data-at-top]").count():
            break
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(100)
        wait_idle(page)
    ids = article_ids(page)
    assert ids[:229] == expected[:229], "the newer activities above are not the 229 newer ones, in order"
    assert ids[229:279] == expected[229:279]
    assert not [i for i, n in Counter(ids).items() if n > 1], "an activity is shown twice"
    assert _positions(page) == list(range(1, len(ids) + 1))
    assert page.evaluate(_DOM_PROBLEMS) == {"duplicateIds": [], "danglingLabels": []}
    assert "/live/" in str(page.locator("#feed-top").get_attribute("data-live-url"))
    watch.assert_clean()


def test_link_copies_the_permalink(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(app_server.timeline_url(ORG, "ct_ada", "type=note_created"))
    card = page.locator(ARTICLES).nth(2)
    card_id = card.get_attribute("data-activity-id")
    link = card.locator("a[data-permalink]")
    href = str(link.get_attribute("href"))
    link.click()
    expect(link).to_contain_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == app_server.base_url + href and "type=note_created" in copied
    assert page.url == app_server.timeline_url(ORG, "ct_ada", "type=note_created")  # copied, not followed
    expect(page.locator("#place-status")).to_have_text("The link to this activity is copied.")
    page.goto(copied)
    marked = page.locator("article[aria-current='true']")
    expect(marked).to_have_attribute("data-activity-id", str(card_id))
    watch.assert_clean()


def test_go_to_date_opens_at_that_day(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    upstream = app_server.upstream_activities(ORG, "ct_heavy")
    day = upstream[2000][2][:10]
    page = open_page(phone=True)
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    page.get_by_label("Go to date").fill(day)
    page.get_by_role("button", name="Go", exact=True).click()
    page.wait_for_url(lambda url: f"at_time={day}" in url)
    marked = page.locator("article[aria-current='true']")
    expect(marked).to_be_in_viewport()
    expect(marked).to_be_focused()
    first = next(i for i, _t, when in upstream if when[:10] <= day)
    assert marked.get_attribute("data-activity-id") == first
    watch.assert_clean()


def test_a_second_visit_shows_the_divider_after_exactly_the_new_activities(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.goto(app_server.timeline_url(*VISITED_CONTACT))
    expect(page.locator(ARTICLES).first).to_be_visible()
    expect(page.locator("[data-last-visit]")).to_have_count(0)  # a first visit
    expect(page.locator("[data-new-since]")).to_have_count(0)
    started = time.monotonic()
    added = app_server.add_activities(*VISITED_CONTACT, count=2)
    # The page read on the first visit is served to everyone for the cache's lifetime: come back after it.
    time.sleep(max(0.0, CACHE_SECONDS + 1 - (time.monotonic() - started)))
    page.goto(app_server.timeline_url(*VISITED_CONTACT))
    ids = article_ids(page)
    assert ids[:2] == added[::-1]
    divider = page.locator("[data-last-visit]")
    expect(divider).to_have_count(1)
    expect(divider).to_contain_text("Your last visit: today")
    assert divider.evaluate("el => el.closest('article').dataset.activityId") == ids[2]
    expect(page.locator("[data-new-since]")).to_contain_text("2 new since your last visit")
    divider.scroll_into_view_if_needed()
    screenshot(page, "last-visit-desktop")
    _assert_axe_clean(page)
    watch.assert_clean()


@pytest.fixture(scope="module")
def live_contact(app_server: AppServer) -> tuple[str, str]:
    app_server.pad(*LIVE_CONTACT, [("note_created", 12), ("segment_added", 3), ("file_uploaded", 10)])
    return LIVE_CONTACT


def test_new_activity_is_announced_and_comes_in_above_without_moving_the_page(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, live_contact: tuple[str, str],
    screenshot: Callable[..., None],
) -> None:  # fmt: skip
    page = open_page()
    page.goto(app_server.timeline_url(*LIVE_CONTACT))
    wait_idle(page)  # the header's history and the spans are in: nothing else moves the page
    before_ids = article_ids(page)
    page.evaluate("() => window.scrollTo(0, 400)")
    reading_id = page.locator(ARTICLES).nth(4).get_attribute("data-activity-id")
    reading = page.locator(f"article[data-activity-id='{reading_id}']")
    reading.focus()
    added = app_server.add_activities(*LIVE_CONTACT, count=3)  # the README's demo command

    notice = page.locator("#live-notice [data-new-activities]")
    expect(notice).to_have_text("3 new activities: show them at the top", timeout=65_000)
    assert page.locator("#live-notice").get_attribute("role") == "status"
    expect(notice).to_be_in_viewport()
    assert article_ids(page) == before_ids  # announced, not inserted by itself
    screenshot(page, "live-notice-desktop")
    _assert_axe_clean(page)

    top_before = reading.evaluate(_RECT)["top"]
    notice.click()
    page.wait_for_function("n => document.querySelectorAll('article[data-activity-id]').length === n",
                           arg=len(before_ids) + 3)  # fmt: skip
    wait_idle(page)
    ids = article_ids(page)
    assert ids == added[::-1] + before_ids
    assert abs(reading.evaluate(_RECT)["top"] - top_before) < 1, "the card being read moved"
    expect(page.locator("#live-notice [data-new-activities]")).to_have_count(0)
    assert _positions(page) == list(range(1, len(ids) + 1))
    assert page.evaluate(_DOM_PROBLEMS) == {"duplicateIds": [], "danglingLabels": []}
    page.keyboard.press("g")  # the newest: what came in
    assert page.evaluate(_FOCUSED_ID) == ids[0]
    watch.assert_clean()


def test_keys_move_between_cards_open_notes_and_list_themselves(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_ada"))
    ids = article_ids(page)
    landed = []
    for key in ("j", "j", "j", "k"):
        page.keyboard.press(key)
        landed.append(page.evaluate(_FOCUSED_ID))
    assert landed == [ids[0], ids[1], ids[2], ids[1]]
    expect(page.locator(ARTICLES).nth(1)).to_be_in_viewport()
    page.keyboard.press("PageDown")  # the feed's own keys still work
    assert page.evaluate(_FOCUSED_ID) == ids[2]

    # Never while typing in a field.
    page.get_by_label("Go to date").focus()
    page.keyboard.press("j")
    expect(page.get_by_label("Go to date")).to_be_focused()

    # j past the last card loaded: more is loaded and the focus goes on.
    page.locator(ARTICLES).nth(49).focus()
    page.keyboard.press("j")
    page.wait_for_function("id => document.activeElement && document.activeElement.dataset.activityId === id",
                           arg=app_server.upstream_ids(ORG, "ct_ada")[50])  # fmt: skip

    # g goes to the newest; ? lists the keys in a dialog, Escape closes it.
    page.keyboard.press("g")
    assert page.evaluate(_FOCUSED_ID) == ids[0]
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    screenshot(page, "keys-dialog-desktop")
    _assert_axe_clean(page)
    page.keyboard.press("j")  # not while the list is open
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    watch.assert_clean()


def test_o_opens_and_closes_the_focused_cards_long_note(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_hostile", "type=note_created"))
    long_note = page.locator("article:has(details.note-more)").first
    long_note.focus()
    details = long_note.locator("details.note-more")
    page.keyboard.press("o")
    expect(details).to_have_attribute("open", "")
    page.keyboard.press("o")
    expect(details).not_to_have_attribute("open", "")
    watch.assert_clean()


def test_g_on_a_permalink_page_goes_to_the_newest(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    expected = app_server.upstream_ids(ORG, "ct_heavy")
    page = open_page(phone=True)
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    link = _permalink_of(page, 120)
    page.goto(app_server.base_url + link)
    expect(page.locator("article[aria-current='true']")).to_have_attribute("data-activity-id", expected[120])
    page.keyboard.press("g")
    page.wait_for_url(app_server.timeline_url(ORG, "ct_heavy"))
    assert article_ids(page)[0] == expected[0]
    watch.assert_clean()


LONG_ABSENCE_CONTACT = (ORG, "ct_sven")  # padded; its audit trail says the demo user last looked long ago


def test_after_a_long_absence_the_divider_lands_on_a_later_page(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    app_server.pad(*LONG_ABSENCE_CONTACT, [("note_created", 70)])
    upstream = app_server.upstream_activities(*LONG_ABSENCE_CONTACT)
    seen_last = upstream[60]  # the newest activity the reader had seen: 60 came since
    org_id, contact_id = LONG_ABSENCE_CONTACT
    app_server.manage("shell", "-c", (
        "from django.contrib.auth import get_user_model\n"
        "from django.utils.dateparse import parse_datetime\n"
        "from timeline_site.timeline.models import TimelineView\n"
        "user = get_user_model().objects.get(username='demo')\n"
        f"TimelineView.objects.filter(user=user, org_id={org_id!r}, contact_id={contact_id!r}).delete()\n"
        f"row = TimelineView.objects.create(user=user, org_id={org_id!r}, contact_id={contact_id!r})\n"
        f"TimelineView.objects.filter(pk=row.pk).update(viewed_at=parse_datetime({seen_last[2]!r}))\n"
    ))  # fmt: skip
    page = open_page()
    page.goto(app_server.timeline_url(*LONG_ABSENCE_CONTACT))
    expect(page.locator("[data-new-since]")).to_contain_text("More than 50 new since your last visit")
    expect(page.locator("#timeline-feed [data-last-visit]")).to_have_count(0)
    load_next_page(page)
    divider = page.locator("#timeline-feed [data-last-visit]")
    expect(divider).to_have_count(1)
    assert divider.evaluate("el => el.closest('article').dataset.activityId") == seen_last[0]
    watch.assert_clean()
