"""Filter chips: the feed, the address bar and the empty states agree on what is selected."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES, article_ids, article_types, wait_idle

pytestmark = pytest.mark.browser

ORG = "northwind"
NOTES, FILES = "note_created", "file_uploaded"


def chip(page: Page, activity_type: str) -> Locator:
    # By value, not by accessible name: a checked chip's name gains the CSS "✓ ".
    return page.locator(f"#filters input[name=type][value={activity_type}]")


def tap_chip(page: Page, activity_type: str) -> None:
    """Click the chip as a person would: on its label, which toggles the checkbox inside (in the filter
    sheet, opened first if it is closed; without JavaScript the chips are on the page)."""
    label = page.locator("#filters label.filter-chip").filter(has=page.locator(f"input[value={activity_type}]"))
    opener = page.locator("button.filter-open")
    if opener.is_visible() and not label.is_visible():
        opener.click()
    label.click()


def assert_newest_first(page: Page, expected: list[tuple[str, str, str]]) -> None:
    """The feed shows exactly `expected`, newest first.

    Activities created in the same second may come in any order: Invent's tie
    order is undocumented, and merging per-type streams need not keep it.
    """
    when = {activity_id: datetime.fromisoformat(created_at) for activity_id, _type, created_at in expected}
    ids = article_ids(page)
    assert sorted(ids) == sorted(when), "the filtered feed is not the matching upstream activities"
    times = [when[i] for i in ids]
    assert times == sorted(times, reverse=True), "the filtered feed is not newest first"


def checked_types(page: Page) -> list[str]:
    return list(page.eval_on_selector_all("#filters input[name=type]:checked", "els => els.map(e => e.value)"))


def url_types(page: Page) -> list[str]:
    return re.findall(r"[?&]type=([^&]+)", page.url)


def test_chips_filter_the_feed_push_the_url_survive_reload_and_clear(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    activities = app_server.upstream_activities(ORG, "ct_ada")
    notes = [a for a in activities if a[1] == NOTES]
    notes_and_files = [a for a in activities if a[1] in (NOTES, FILES)]
    # One page each, so a page shows every match.
    assert notes and len(notes) < len(notes_and_files) < len(activities) and len(notes_and_files) <= 50

    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_ada"))
    unfiltered = article_ids(page)
    assert len(set(article_types(page))) > 2

    tap_chip(page, NOTES)
    page.wait_for_url(re.compile(r"[?&]type=note_created(&|$)"))
    wait_idle(page)
    assert set(article_types(page)) == {NOTES}
    assert_newest_first(page, notes)

    tap_chip(page, FILES)
    page.wait_for_url(re.compile(r"type=file_uploaded"))
    wait_idle(page)
    assert sorted(url_types(page)) == [FILES, NOTES]
    assert set(article_types(page)) == {NOTES, FILES}
    assert_newest_first(page, notes_and_files)
    screenshot(page, "filters-desktop")

    page.reload()
    assert sorted(checked_types(page)) == [FILES, NOTES]
    expect(chip(page, NOTES)).to_be_checked()
    expect(chip(page, FILES)).to_be_checked()
    assert_newest_first(page, notes_and_files)

    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(re.compile(r"/contacts/ct_ada/$"))
    wait_idle(page)
    assert checked_types(page) == []
    assert article_ids(page) == unfiltered
    expect(page.get_by_role("link", name="Clear filters")).to_have_count(0)

    # The filters were pushed to history: Back shows the filtered timeline again.
    # (htmx keeps no history cache here, so it reloads the page: wait on the new state, not on the URL.)
    page.go_back()
    expect(page).to_have_url(re.compile(r"type=file_uploaded"))
    expect(chip(page, NOTES)).to_be_checked()
    expect(chip(page, FILES)).to_be_checked()
    expect(page.locator(ARTICLES)).to_have_count(len(notes_and_files))
    page.wait_for_load_state()
    assert sorted(checked_types(page)) == [FILES, NOTES]
    assert_newest_first(page, notes_and_files)
    watch.assert_clean()


def test_no_activity_at_all_and_no_match_for_a_filter_are_told_apart(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.goto(app_server.timeline_url(ORG, "ct_empty"))
    expect(page.locator('[data-empty="none"]')).to_contain_text("No activity yet")
    expect(page.locator('[data-empty="filtered"]')).to_have_count(0)
    screenshot(page, "empty-desktop")

    tap_chip(page, NOTES)
    page.wait_for_url(re.compile(r"type=note_created"))
    wait_idle(page)
    expect(page.locator('[data-empty="filtered"]')).to_contain_text("Nothing matches these filters")
    expect(page.locator('[data-empty="none"]')).to_have_count(0)

    # A contact with activity, filtered to a type it has none of.
    types = {t for _i, t, _when in app_server.upstream_activities("northwind-emea", "ct_bruno")}
    assert types, "ct_bruno should have activity"
    missing = sorted({"contact_blocked", "contact_unblocked"} - types)
    assert missing, f"the demo seed changed: ct_bruno now has {sorted(types)}"
    page.goto(app_server.timeline_url("northwind-emea", "ct_bruno", f"type={missing[0]}"))
    expect(page.locator('[data-empty="filtered"]')).to_be_visible()
    expect(page.locator(ARTICLES)).to_have_count(0)
    page.locator('[data-empty="filtered"]').get_by_role("link", name="Show all activity").click()
    page.wait_for_url(re.compile(r"/contacts/ct_bruno/$"))
    expect(page.locator(ARTICLES).first).to_be_visible()
    assert checked_types(page) == []
    watch.assert_clean()


def test_filters_work_without_javascript(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    notes = [a for a in app_server.upstream_activities(ORG, "ct_ada") if a[1] == NOTES]
    page = open_page(java_script_enabled=False)
    page.goto(app_server.timeline_url(ORG, "ct_ada"))
    # Each page asks again (its <noscript> refresh) for one that carries the spans inline: chips are
    # ticked on that one, and the filtered page is read once it has come too.
    page.wait_for_url(re.compile(r"[?&]inline=1$"))
    tap_chip(page, NOTES)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"[?&]type=note_created&inline=1$"))
    page.wait_for_load_state()
    assert url_types(page) == [NOTES]
    expect(chip(page, NOTES)).to_be_checked()
    assert_newest_first(page, notes)
    watch.assert_clean()
