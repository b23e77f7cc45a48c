"""Phone-first reading (issue 13) in a real browser: a 360 x 740 phone, the viewer in New York.

On every demo contact of the README the newest activity's first lines are on the first screen, its card
shows its clock time and the page names the zone; a phone screen holds seven or more events mid-feed;
two chosen filters are named in sight; a slow Invent paints the page's frame within 1.5 s; nothing moves
once drawn (layout shifts are measured by the browser); axe finds nothing, on a phone or a desktop, light
or dark. The README's screenshots are written here too (docs/screenshots/).
"""

from __future__ import annotations

import re
import statistics
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, ROOT, AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES, wait_idle

NEW_YORK = "America/New_York"
pytestmark = [pytest.mark.browser, pytest.mark.browser_context_args(timezone_id=NEW_YORK)]

DEMO_CONTACTS = [
    ("northwind", "ct_ada"),
    ("northwind", "ct_heavy"),
    ("northwind", "ct_empty"),
    ("northwind", "ct_hostile"),
    ("northwind", "ct_slow"),
    ("northwind", "ct_flaky"),
    ("northwind", "ct_ratelimited"),
    ("northwind-emea", "ct_bruno"),
]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE_RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
FIRST_PAINT_MS = 1500
EVENTS_PER_SCREEN = 7

# Every layout shift the page makes on its own (not right after the reader's input), summed as the
# browser's Cumulative Layout Shift; and when the first paint and the slow page's frame happened.
MEASURE = """
window.pageShifts = [];
new PerformanceObserver(list => {
  for (const shift of list.getEntries()) {
    if (!shift.hadRecentInput) {
      window.pageShifts.push({value: shift.value, at: Math.round(shift.startTime),
        nodes: (shift.sources || []).map(s => s.node && (s.node.id || s.node.className || s.node.nodeName))});
    }
  }
}).observe({type: 'layout-shift', buffered: true});
window.cls = () => window.pageShifts.reduce((sum, shift) => sum + shift.value, 0);
window.firstPaint = () => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime;
"""

VISIBLE_EVENTS = """
() => {
  const barBottom = document.getElementById('toolbar').getBoundingClientRect().bottom;
  return [...document.querySelectorAll('article[data-activity-id]')].filter(a => {
    const box = a.getBoundingClientRect();
    return box.bottom > barBottom + 1 && box.top < innerHeight - 1;
  }).length;
}
"""


def open_phone(open_page: OpenPage, app_server: AppServer, **context: Any) -> Page:
    """A phone whose browser is in New York and whose zone the dashboard already knows (a returning reader)."""
    page = open_page(phone=True, **context)
    page.context.add_cookies([{"name": "tz", "value": NEW_YORK, "url": app_server.base_url}])
    page.add_init_script(MEASURE)
    return page


def settle(page: Page) -> None:
    """Until everything the page asks for by itself (the spans, the header's history) is in."""
    page.wait_for_load_state("networkidle")
    wait_idle(page)


def bottom(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not laid out"
    return float(box["y"] + box["height"])


def assert_no_layout_shift(page: Page) -> None:
    shifts = page.evaluate("window.pageShifts")
    assert page.evaluate("window.cls()") < 0.001, f"things moved after they were drawn: {shifts}"


def assert_zone_named_once(page: Page) -> None:
    zone = page.locator("[data-zone-note]")
    expect(zone).to_have_text(re.compile(r"^Times in New York \((EST|EDT)\)$"))
    assert bottom(page, "[data-zone-note]") <= PHONE["height"], "the zone is not named on the first screen"
    assert page.get_by_text(re.compile(r"^Times in ")).count() == 1


@pytest.mark.parametrize(("org_id", "contact_id"), DEMO_CONTACTS, ids=[c for _o, c in DEMO_CONTACTS])
def test_the_first_screen_shows_the_newest_activity_with_its_clock_time_and_the_zone(
    org_id: str, contact_id: str, app_server: AppServer, open_page: OpenPage, watch: BrowserWatch,
    screenshot: Any,
) -> None:  # fmt: skip
    page = open_phone(open_page, app_server)
    if contact_id == "ct_ratelimited":
        watch.allow(r"status of 503")  # the browser's own log of the page's status
    page.goto(app_server.timeline_url(org_id, contact_id))
    if contact_id == "ct_ratelimited":
        assert_rate_limited_page(page, contact_id)
        screenshot(page, f"phone-{contact_id}")
        watch.assert_clean()
        return
    settle(page)
    screenshot(page, f"phone-{contact_id}")
    assert page.evaluate("window.firstPaint()") <= FIRST_PAINT_MS
    assert_zone_named_once(page)
    if contact_id == "ct_empty":
        expect(page.locator('[data-empty="none"]')).to_be_visible()
        assert bottom(page, '[data-empty="none"]') <= PHONE["height"]
    else:
        newest = page.locator(ARTICLES).first
        expect(newest).to_be_visible()
        # Its first lines (what happened, when; who did it) are on the first screen.
        assert bottom(page, f"{ARTICLES} >> nth=0 >> .who-line") <= PHONE["height"]
        clock = newest.locator(".head-line time")
        at = datetime.fromisoformat(clock.get_attribute("datetime") or "").astimezone(ZoneInfo(NEW_YORK))
        expect(clock).to_have_text(re.compile(rf"^{at:%H:%M}\b"))  # the clock time, in New York
        assert "New York" not in (clock.text_content() or "")  # the zone is said once, for the page
    assert_no_layout_shift(page)
    watch.assert_clean()


def assert_rate_limited_page(page: Page, contact_id: str) -> None:
    """Invent is busy: the page says so, names the contact, counts down and asks again by itself."""
    problem = page.locator(".problem")
    expect(problem.get_by_role("heading", level=1)).to_have_text("Invent is busy")
    expect(problem.locator(".problem-contact")).to_contain_text(contact_id)
    assert bottom(page, ".retry-in") <= PHONE["height"]
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    seconds = page.locator("[data-seconds]")
    before = int(seconds.inner_text())
    expect(seconds).not_to_have_text(str(before), timeout=3000)
    assert 0 < int(seconds.inner_text()) < before


def test_a_slow_invent_paints_the_frame_first_and_the_cards_follow_in_the_same_page(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Any
) -> None:
    # A filter no other test asks for: nothing of it is cached, so every read takes the demo's 3 s.
    query = "type=note_created&type=file_uploaded&type=segment_added"
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_slow", query), wait_until="commit")
    frame = page.locator(".stream-frame")
    expect(frame).to_be_visible(timeout=FIRST_PAINT_MS)
    frame_at = page.evaluate("performance.now()")
    expect(frame).to_contain_text("Invent is slow to answer")
    expect(frame.get_by_role("heading", level=1)).to_be_visible()  # the header from what is known
    screenshot(page, "phone-ct_slow-frame")
    expect(page.locator(ARTICLES).first).to_be_visible(timeout=15_000)
    expect(frame).to_be_hidden()
    assert page.evaluate("window.firstPaint()") <= FIRST_PAINT_MS and frame_at <= FIRST_PAINT_MS + 500
    settle(page)
    assert page.locator("h1").count() == 2 and page.locator("header.contact-header h1").is_visible()
    assert_no_layout_shift(page)
    watch.assert_clean()


def test_a_phone_screen_holds_seven_events_mid_feed(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Any
) -> None:
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    settle(page)
    first_top, last_bottom = page.evaluate(
        """() => { const all = document.querySelectorAll('article[data-activity-id]');
                   return [all[0].getBoundingClientRect().top + scrollY,
                           all[all.length - 1].getBoundingClientRect().bottom + scrollY]; }"""
    )
    bar = page.evaluate("document.getElementById('toolbar').getBoundingClientRect().height")
    screen = PHONE["height"] - bar  # what one screen shows below the bar that stays at the top

    def visible_at(y: float) -> int:
        page.evaluate(
            "y => new Promise(done => { scrollTo(0, y); requestAnimationFrame(() => requestAnimationFrame(done)); })", y
        )
        return int(page.evaluate(VISIBLE_EVENTS))

    # Screen after screen through the first page, as a reader pages down: each holds seven or more.
    screens = [visible_at(first_top - bar + n * screen) for n in range(int((last_bottom - first_top) // screen))]
    assert len(screens) >= 4 and min(screens) >= EVENTS_PER_SCREEN, f"events per screen: {screens}"
    # Wherever the reader stops (every 100 px), seven on average.
    anywhere = [visible_at(y) for y in range(int(first_top - bar), int(last_bottom - PHONE["height"]), 100)]
    assert statistics.mean(anywhere) >= EVENTS_PER_SCREEN, f"events visible at each 100 px: {anywhere}"
    visible_at(first_top - bar + 2 * screen)
    screenshot(page, "phone-ct_ada-mid-feed")
    watch.assert_clean()


def test_chosen_filters_stay_named_in_sight_and_clear_from_there(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Any
) -> None:
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    settle(page)
    showing = page.locator("#filters-showing")
    expect(showing).to_be_hidden()
    page.get_by_role("button", name="Filter", exact=True).click()
    sheet = page.get_by_role("dialog", name="Filter the timeline")
    expect(sheet).to_be_visible()
    for label in ("Notes", "Blocked"):
        sheet.locator("label.filter-chip", has_text=re.compile(rf"^\s*{label}\s*$")).click()
        expect(showing).to_contain_text(label)  # the feed behind the sheet follows each chip
    expect(page).to_have_url(re.compile(r"type=note_created&type=contact_blocked$"))
    sheet.get_by_role("button", name="Done").click()
    expect(sheet).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile(r"^Filter \(2\)"))).to_be_focused()
    expect(showing).to_have_text(re.compile(r"^Showing: Notes, Blocked · Clear"))
    # Far down the feed both are still named, in the bar at the top.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    expect(page.locator("#toolbar.stuck")).to_have_count(1)
    box = showing.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    expect(page.locator("#toolbar .bar-name")).to_have_text("Ada Lovelace")
    screenshot(page, "phone-filters-in-sight")
    showing.get_by_role("link", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/contacts/ct_ada/$"))
    expect(showing).to_be_hidden()
    expect(page.locator("#filters input:checked")).to_have_count(0)
    watch.assert_clean()


def test_the_bar_never_covers_a_focused_card(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    settle(page)
    card = page.locator(ARTICLES).nth(12)
    top = card.evaluate("a => a.getBoundingClientRect().top + scrollY")
    page.evaluate("y => window.scrollTo(0, y)", top - 20)  # the card's first lines under the bar
    expect(page.locator("#toolbar.stuck")).to_have_count(1)
    card.focus()
    bar_bottom = page.evaluate("document.getElementById('toolbar').getBoundingClientRect().bottom")
    expect(card).to_be_focused()
    page.wait_for_function(
        "([card, bar]) => card.getBoundingClientRect().top >= bar - 0.5", arg=[card.element_handle(), bar_bottom]
    )
    # "Newest" takes the reader back to the top of the feed, below the bar.
    page.get_by_role("link", name="Newest").click()
    first = page.locator(ARTICLES).first
    near_bar = "([card, bar]) => Math.abs(card.getBoundingClientRect().top - bar) < 80"
    page.wait_for_function(near_bar, arg=[first.element_handle(), bar_bottom])
    watch.assert_clean()


def test_details_stay_open_once_opened_and_the_page_does_not_jump(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    details = page.locator("#contact-details")
    expect(details).not_to_have_attribute("open", "")
    expect(page.get_by_text("Org northwind · Contact ct_ada")).to_be_hidden()  # the raw ids are in Details
    details.locator("summary").click()
    expect(details.get_by_text("ada.l")).to_be_visible()
    expect(details.get_by_text("User name:")).to_be_visible()  # every value says what it is
    settle(page)
    page.reload()
    settle(page)
    expect(details).to_have_attribute("open", "")
    assert_no_layout_shift(page)
    watch.assert_clean()


def _describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} " + "; ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in violations
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_axe_finds_nothing_and_the_readme_screenshots_are_taken(
    phone: bool, scheme: str, app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_phone(open_page, app_server, color_scheme=scheme) if phone else open_page(color_scheme=scheme)
    if not phone:
        page.context.add_cookies([{"name": "tz", "value": NEW_YORK, "url": app_server.base_url}])
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    settle(page)
    results = Axe().run(page, options=AXE_RULES)
    assert results.violations_count == 0, "axe:\n" + _describe(results.response["violations"])
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_SCREENSHOTS / f"{'phone' if phone else 'desktop'}-{scheme}.png")
    if phone:  # and with the filter sheet open
        page.get_by_role("button", name="Filter", exact=True).click()
        expect(page.get_by_role("dialog", name="Filter the timeline")).to_be_visible()
        results = Axe().run(page, options=AXE_RULES)
        assert results.violations_count == 0, "axe, filter sheet:\n" + _describe(results.response["violations"])
    assert page.viewport_size == (PHONE if phone else DESKTOP)
    watch.assert_clean()


def test_an_unknown_kind_is_named_in_words_with_its_metadata(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_phone(open_page, app_server)
    page.goto(app_server.timeline_url("northwind", "ct_hostile"))
    unknown = page.locator("article.activity-unknown").first
    unknown.scroll_into_view_if_needed()
    expect(unknown.locator("h3")).to_have_text(re.compile(r"^Unrecognised activity: [A-Z]"))
    expect(unknown.locator("dl.metadata dt").first).to_be_visible()
    watch.assert_clean()
