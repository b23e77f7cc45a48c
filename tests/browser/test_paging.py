"""Infinite scroll over the live feed: complete, without duplicates, resilient, and without JavaScript."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Response, Route, expect

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import (
    ARTICLES,
    article_ids,
    article_types,
    load_next_page,
    scroll_to_bottom,
    scroll_to_end,
    wait_for_more_articles,
    wait_idle,
)
from timeline_site.invent.kinds import SPAN_TYPES

pytestmark = pytest.mark.browser

PAGE_SIZE = 50
ORG = "northwind"
# Contacts this module pads with extra activities so they span several pages.
# No other test uses them, so what these tests do to them cannot leak.
LIVE_CONTACT = (ORG, "ct_olivia")  # gets new activities mid-scroll
FAILING_CONTACT = ("northwind-emea", "ct_hannah")  # goes down mid-scroll
FILTERED_LIVE_CONTACT = (ORG, "ct_priya")  # filtered, with new activities mid-scroll
NOTES_AND_FILES = ("note_created", "file_uploaded")


def _is_next_page(url: str) -> bool:
    """A request for the next page of cards: the timeline's own URL with a paging cursor (not its spans)."""
    parts = urlsplit(url)
    return not parts.path.endswith("/spans/") and "/contacts/" in parts.path and "cursor" in parse_qs(parts.query)


def _is_spans(url: str) -> bool:
    return urlsplit(url).path.endswith("/spans/")


def _assert_unique(ids: list[str]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not duplicates, f"{len(duplicates)} activities shown twice, e.g. {duplicates[:5]}"


@pytest.fixture(scope="module")
def live_contact(app_server: AppServer) -> tuple[str, str]:
    app_server.add_activities(*LIVE_CONTACT, count=3 * PAGE_SIZE)
    return LIVE_CONTACT


@pytest.fixture(scope="module")
def failing_contact(app_server: AppServer) -> tuple[str, str]:
    app_server.add_activities(*FAILING_CONTACT, count=4 * PAGE_SIZE)
    return FAILING_CONTACT


@pytest.fixture(scope="module")
def filtered_live_contact(app_server: AppServer) -> tuple[str, str]:
    # Interleaved types, so a Notes + Files filter merges two upstream streams page after page.
    batches = [("note_created", 13), ("segment_added", 4), ("file_uploaded", 9), ("contact_blocked", 1)]
    app_server.pad(*FILTERED_LIVE_CONTACT, batches * 7)
    return FILTERED_LIVE_CONTACT


def _assert_filtered_feed(
    ids: list[str], types: list[str], upstream: list[tuple[str, str, str]], wanted: tuple[str, ...]
) -> None:
    """`ids` is an unbroken newest-first prefix of the upstream activities of the wanted types.

    Same-second activities may come in any order (merged streams need not keep
    Invent's tie order), so the check is by time: everything strictly newer than
    the last card shown is shown, nothing older is, and nothing twice.
    """
    _assert_unique(ids)
    assert set(types) <= set(wanted), f"cards of other types: {set(types) - set(wanted)}"
    when = {
        i: datetime.fromisoformat(created_at) for i, activity_type, created_at in upstream if activity_type in wanted
    }
    unknown = [i for i in ids if i not in when]
    assert not unknown, f"cards that are not upstream activities of these types: {unknown[:5]}"
    times = [when[i] for i in ids]
    assert times == sorted(times, reverse=True), "the feed is not newest first"
    newer = {i for i, t in when.items() if t > times[-1]}
    missing = sorted(newer - set(ids))
    assert not missing, f"{len(missing)} activities skipped, e.g. {missing[:5]}"


# First in this module, while the shared upstream budget is fresh: past 80 % of it (the long scrolls
# below) the spans step aside, and their answers would carry nothing to lose.
def test_spans_of_pages_scrolled_past_quickly_all_land_in_their_cards(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    """Each page's spans come in their own request after it. A reader scrolling on quickly has the next
    page replace the pager before they answer: they must still land. (A loader inside #pager is gone by
    then, and htmx drops its answer, logging htmx:oobErrorNoTarget as a console error.)"""
    pages = 5
    page = open_page()
    held: list[Route] = []
    # Every page's spans answer late: after the pages below it came.
    page.route(_is_spans, lambda route: held.append(route))
    answers: list[Response] = []
    page.on("response", lambda response: answers.append(response) if _is_spans(response.url) else None)
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    for loaded in range(1, pages):
        scroll_to_bottom(page)
        wait_for_more_articles(page, loaded * PAGE_SIZE)
    assert page.locator(ARTICLES).count() == pages * PAGE_SIZE
    for _ in range(200):  # bounded: about 10 s
        if len(held) == pages:
            break
        page.wait_for_timeout(50)
    assert len(held) == pages, f"{len(held)} spans requests for {pages} pages"

    for route in held:
        route.continue_()
    for _ in range(600):  # bounded: about 30 s
        if len(answers) == pages:
            break
        page.wait_for_timeout(50)
    assert len(answers) == pages, f"{len(answers)} spans answers for {pages} pages"
    expected: dict[str, str] = {}  # span line id -> what it says, from every answer
    for answer in answers:
        assert answer.status == 200, (answer.status, answer.url)
        said = dict(re.findall(r'<p id="(span-[^"]+)" class="span-note[^"]*" data-span="[^"]+"[^>]*>([^<]*)</p>',
                               answer.text()))  # fmt: skip
        assert said, f"no spans in {answer.url}: did they step aside (the upstream budget)?"
        expected.update(said)
    wait_idle(page)
    page.evaluate(_TWO_FRAMES)

    lines = page.eval_on_selector_all(
        ARTICLES,
        """els => els.map(e => {
             const line = e.querySelector('.span-note');
             return {type: e.dataset.activityType, id: line && line.id, text: line && line.textContent,
                     empty: !!line && line.classList.contains('span-empty')};
           })""",
    )
    paired = [line for line in lines if line["type"] in SPAN_TYPES]
    assert len(paired) >= pages, "ct_heavy should have paired events on every page"
    assert all(line["id"] for line in paired), "a paired card has no span line"
    shown = {line["id"]: line for line in paired}
    assert set(expected) <= set(shown), "spans answered for cards that are not on the page"
    # Every paired card says what its answer said, or is empty because its answer had nothing reliable to say.
    lost = [(i, text) for i, text in expected.items() if shown[i]["empty"] or shown[i]["text"] != text]
    assert not lost, f"{len(lost)} spans answered but not shown, e.g. {lost[:3]}"
    assert all(line["empty"] for i, line in shown.items() if i not in expected)
    expect(page.locator(".spans-loader")).to_have_count(0)  # each loader goes once it has done its work
    watch.assert_clean()


def test_heavy_contact_scrolls_to_the_end_without_duplicates_or_gaps(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    expected = app_server.upstream_ids(ORG, "ct_heavy")
    assert len(expected) > 5000
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    first = page.locator(ARTICLES).first
    assert first.get_attribute("aria-setsize") == str(len(expected))

    started = time.monotonic()
    pages = scroll_to_end(page, max_pages=len(expected) // PAGE_SIZE + 5)
    elapsed = time.monotonic() - started
    print(f"\nct_heavy: {len(expected)} activities, {pages} pages scrolled in {elapsed:.1f} s")

    ids = article_ids(page)
    _assert_unique(ids)
    assert len(ids) == len(set(ids)) == len(expected)
    assert ids == expected, "the timeline is not the upstream feed, newest first"
    positions = page.eval_on_selector_all(ARTICLES, "els => els.map(e => Number(e.getAttribute('aria-posinset')))")
    assert positions == list(range(1, len(expected) + 1))
    assert "nothing older" in page.locator("[data-timeline-end]").inner_text()
    # 104 appended fragments later, the document is still one document: ids
    # unique, and every card's accessible name points at an element that exists.
    problems = page.evaluate(_DOM_PROBLEMS)
    assert problems == {"duplicateIds": [], "danglingLabels": []}, problems
    screenshot(page, "heavy-end-desktop")
    watch.assert_clean()


def test_activities_added_mid_scroll_are_neither_repeated_nor_skipped(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, live_contact: tuple[str, str]
) -> None:
    expected = app_server.upstream_ids(*live_contact)
    assert len(expected) > 3 * PAGE_SIZE
    page = open_page()
    page.goto(app_server.timeline_url(*live_contact))
    assert load_next_page(page) == 2 * PAGE_SIZE

    # New activities arrive upstream: Invent's page 3 now starts 7 items earlier
    # in the feed, i.e. with the last 7 cards already on screen.
    added = app_server.add_activities(*live_contact, count=7)
    assert len(added) == 7
    scroll_to_end(page, max_pages=len(expected) // PAGE_SIZE + 3)

    ids = article_ids(page)
    _assert_unique(ids)
    assert ids == expected, "cards were skipped or reordered after the feed grew"
    assert not set(added) & set(ids), "activities newer than the first page were appended at the bottom"
    watch.assert_clean()


def test_filtered_heavy_timeline_pages_without_duplicates_or_gaps(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    upstream = app_server.upstream_activities(ORG, "ct_heavy")
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_heavy", "type=note_created&type=file_uploaded"))
    for _ in range(5):
        load_next_page(page)
    assert page.locator(ARTICLES).count() == 6 * PAGE_SIZE
    _assert_filtered_feed(article_ids(page), article_types(page), upstream, NOTES_AND_FILES)
    watch.assert_clean()


def test_filtered_scroll_stays_whole_when_activities_arrive(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, filtered_live_contact: tuple[str, str]
) -> None:
    upstream = app_server.upstream_activities(*filtered_live_contact)
    expected = [i for i, t, _when in upstream if t in NOTES_AND_FILES]
    assert len(expected) > 3 * PAGE_SIZE
    page = open_page()
    page.goto(app_server.timeline_url(*filtered_live_contact, "type=note_created&type=file_uploaded"))
    assert load_next_page(page) == 2 * PAGE_SIZE

    app_server.add_activities(*filtered_live_contact, count=7, activity_type="note_created")
    app_server.add_activities(*filtered_live_contact, count=3, activity_type="file_uploaded")
    scroll_to_end(page, max_pages=len(expected) // PAGE_SIZE + 3)

    ids = article_ids(page)
    _assert_filtered_feed(ids, article_types(page), upstream, NOTES_AND_FILES)
    assert sorted(ids) == sorted(expected), "the filtered timeline lost or gained activities"
    watch.assert_clean()


def test_upstream_failure_mid_scroll_keeps_the_cards_and_retry_carries_on(
    app_server: AppServer,
    open_page: OpenPage,
    watch: BrowserWatch,
    failing_contact: tuple[str, str],
    screenshot: Callable[..., None],
) -> None:
    expected = app_server.upstream_ids(*failing_contact)
    assert len(expected) > 4 * PAGE_SIZE
    page = open_page()
    page.goto(app_server.timeline_url(*failing_contact))
    assert load_next_page(page) == 2 * PAGE_SIZE
    shown = article_ids(page)

    # The browser logs the dashboard's deliberate 502 for the failed fragment.
    watch.allow(r"the server responded with a status of 502")
    app_server.set_behaviour(*failing_contact, "down")
    try:
        scroll_to_bottom(page)  # page 3 was never fetched, so no cached copy can hide the failure
        wait_for_more_articles(page, len(shown))
        wait_idle(page)
        pager = page.locator("#pager")
        expect(pager).to_have_class(re.compile(r"\bpager-error\b"))
        expect(pager.get_by_role("alert")).to_contain_text("Invent is not answering")
        retry = pager.get_by_role("button", name="Retry")
        expect(retry).to_be_visible()
        assert article_ids(page) == shown, "cards already on screen changed when the next page failed"
        pager.scroll_into_view_if_needed()
        screenshot(page, "pager-error-desktop")
    finally:
        app_server.set_behaviour(*failing_contact, "normal")

    retry.click()
    wait_for_more_articles(page, len(shown))
    wait_idle(page)
    ids = article_ids(page)
    assert len(ids) == 3 * PAGE_SIZE
    assert ids[: len(shown)] == shown
    expect(page.locator("#pager.pager-error")).to_have_count(0)

    # Paging carries on from where the retry left it, to the very end.
    scroll_to_end(page, max_pages=len(expected) // PAGE_SIZE + 3)
    ids = article_ids(page)
    _assert_unique(ids)
    assert ids == expected
    watch.assert_clean()


def test_appending_a_page_does_not_move_what_the_reader_is_looking_at(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_page()
    held: list[Route] = []

    # Hold the next-page request so the "before" measurement cannot race the swap.
    def hold(route: Route) -> None:
        held.append(route)

    page.route(_is_next_page, hold)
    page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    # The reader scrolls to where the next page is prefetched, well above the
    # bottom, and stops there.
    page.evaluate(
        "() => window.scrollTo(0,"
        " document.getElementById('pager').getBoundingClientRect().top + window.scrollY - 1.5 * window.innerHeight)"
    )
    for _ in range(200):  # bounded: about 10 s
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "scrolling into the prefetch zone did not ask for the next page"
    expect(page.locator("#timeline-feed")).to_have_attribute("aria-busy", "true")
    before = page.evaluate(_VIEWPORT_STATE)

    held[0].continue_()
    wait_for_more_articles(page, PAGE_SIZE)
    wait_idle(page)
    page.evaluate(_TWO_FRAMES)
    after = page.evaluate(_VIEWPORT_STATE, before["anchorId"])

    assert page.locator(ARTICLES).count() == 2 * PAGE_SIZE
    assert abs(after["scrollY"] - before["scrollY"]) <= 1, (before, after)
    assert abs(after["anchorTop"] - before["anchorTop"]) <= 1, (before, after)
    watch.assert_clean()


def test_first_page_of_cards_is_in_the_first_response(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    expected = app_server.upstream_ids(ORG, "ct_heavy")[:PAGE_SIZE]
    page = open_page()
    later_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            later_requests.append(request.url) if request.resource_type in ("document", "xhr", "fetch") else None
        ),
    )
    # The spans (how long each state lasted) and the header's history follow the page in their own request:
    # held here, so the cards can only have come with the page itself.
    held: list[Route] = []
    page.route(_is_spans, lambda route: held.append(route))
    response = page.goto(app_server.timeline_url(ORG, "ct_heavy"))
    assert response is not None and response.ok
    in_html = re.findall(r'data-activity-id="([^"]+)"', response.text())
    assert in_html == expected

    expect(page.locator(ARTICLES).first).to_be_visible()
    for _ in range(200):  # bounded: about 10 s
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "the page did not ask for its spans once it was on screen"
    assert article_ids(page) == expected, "the cards waited for the spans"
    expect(page.locator("#timeline-feed .span-note:not(.span-empty)")).to_have_count(0)  # reserved lines only

    held[0].continue_()
    expect(page.locator("#timeline-feed .span-note:not(.span-empty)").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    assert article_ids(page) == expected
    assert later_requests == [response.url, held[0].request.url], (
        "the page needed more than one round trip to show its cards (or asked for its spans more than once)"
    )
    watch.assert_clean()


def test_older_activities_link_works_without_javascript(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    expected = app_server.upstream_ids(ORG, "ct_ada")
    assert PAGE_SIZE < len(expected) <= 2 * PAGE_SIZE
    page = open_page(java_script_enabled=False)
    page.goto(app_server.timeline_url(ORG, "ct_ada"))
    # Nothing would fetch the spans: the page's <noscript> refresh asks for one that carries them inline.
    page.wait_for_url(re.compile(r"[?&]inline=1$"))
    page.wait_for_load_state()
    first = article_ids(page)
    assert first == expected[:PAGE_SIZE]
    expect(page.locator("#timeline-feed .span-note[data-span]").first).to_be_attached()  # spans came inline

    with page.expect_navigation():
        page.get_by_role("link", name="Older activities").click()
    assert "cursor=" in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")  # a full page, not a fragment
    second = article_ids(page)
    assert second, "the older page is empty"
    assert not set(first) & set(second)
    assert first + second == expected
    assert page.locator(ARTICLES).first.get_attribute("aria-posinset") == str(PAGE_SIZE + 1)
    expect(page.locator("[data-timeline-end]")).to_be_visible()
    screenshot(page, "nojs-older-desktop", full_page=True)
    watch.assert_clean()


_VIEWPORT_STATE = """
(anchorId) => {
  const articles = [...document.querySelectorAll('article[data-activity-id]')];
  const anchor = anchorId
    ? articles.find(a => a.dataset.activityId === anchorId)
    : articles.find(a => a.getBoundingClientRect().top >= 0);
  return {scrollY: window.scrollY, anchorId: anchor.dataset.activityId, anchorTop: anchor.getBoundingClientRect().top};
}
"""
_DOM_PROBLEMS = """
() => {
  const seen = new Map();
  for (const el of document.querySelectorAll('[id]')) { seen.set(el.id, (seen.get(el.id) || 0) + 1); }
  const duplicateIds = [...seen].filter(([, n]) => n > 1).map(([id]) => id).slice(0, 10);
  const danglingLabels = [...document.querySelectorAll('[aria-labelledby]')]
    .flatMap(el => el.getAttribute('aria-labelledby').split(/\\s+/))
    .filter(id => !document.getElementById(id)).slice(0, 10);
  return {duplicateIds, danglingLabels};
}
"""
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def test_page_down_and_up_move_between_activities_far_down_the_feed(open_page: OpenPage, watch: BrowserWatch) -> None:
    # The ARIA feed pattern. Cards far off screen skip layout until needed
    # (content-visibility): moving focus to one must still show it.
    page = open_page(phone=True)
    page.goto(f"/orgs/{ORG}/contacts/ct_ada/")
    page.locator(ARTICLES).first.focus()
    for _ in range(30):
        page.keyboard.press("PageDown")
    focused = page.locator(f"{ARTICLES}:focus")
    expect(focused).to_have_attribute("aria-posinset", "31")
    expect(focused).to_be_in_viewport()
    box = focused.bounding_box()
    assert box is not None and box["height"] > 40  # laid out, not a placeholder
    page.keyboard.press("PageUp")
    expect(page.locator(f"{ARTICLES}:focus")).to_have_attribute("aria-posinset", "30")
    watch.assert_clean()
