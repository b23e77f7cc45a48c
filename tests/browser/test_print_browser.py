"""Printing the timeline in a real browser: every loaded card whole, exact times, no controls; the Print
button loads a short timeline first; the new filter chips and the "keep looking" pager pass axe."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES

pytestmark = pytest.mark.browser

AXE_RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
CONTROLS = "button, input, select, textarea, summary, .filter-chip, .notice, [data-export], #pager a, .copy"
# window.print() would open a dialog a headless browser cannot close: count the calls instead.
COUNT_PRINTS = "window.__prints = 0; window.print = () => { window.__prints += 1; };"


def _axe_clean(page: Page) -> None:
    results = Axe().run(page, options=AXE_RULES)
    assert results.violations_count == 0, json.dumps(results.response["violations"], indent=1)[:3000]


def _visible_controls(page: Page) -> list[str]:
    return list(
        page.eval_on_selector_all(
            CONTROLS, "els => els.filter(e => e.checkVisibility()).map(e => e.outerHTML.slice(0, 120))"
        )
    )


def test_print_shows_every_loaded_card_whole_and_no_control(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page()
    page.goto(app_server.timeline_url("northwind", "ct_hostile"))
    count = page.locator(ARTICLES).count()
    assert count > 10
    assert _visible_controls(page)  # on screen there are controls to hide
    page.emulate_media(media="print")

    hidden = page.eval_on_selector_all(ARTICLES, "els => els.filter(e => !e.checkVisibility()).length")
    assert hidden == 0, f"{hidden} of {count} cards do not print"
    assert _visible_controls(page) == []
    expect(page.locator(".contact-header h1")).to_be_visible()
    assert page.locator(".day-header").first.is_visible()

    # The 200 KB note prints whole: its last line is laid out and visible, the preview is not.
    end_of_note = page.evaluate(
        """() => {
            const full = [...document.querySelectorAll('.note-more .note-text')]
              .find(e => e.textContent.includes('Long transcript line 2000'));
            if (!full || !full.checkVisibility()) { return null; }
            const walker = document.createTreeWalker(full, NodeFilter.SHOW_TEXT);
            let last = null;
            while (walker.nextNode()) { if (walker.currentNode.textContent.trim()) { last = walker.currentNode; } }
            const range = document.createRange();
            range.selectNodeContents(last);
            const rect = range.getBoundingClientRect();
            return {text: last.textContent.trim(), width: rect.width, height: rect.height};
        }"""
    )
    assert end_of_note is not None, "the long note's full text is not visible in print"
    assert end_of_note["text"].startswith("Long transcript line 20") and end_of_note["width"] > 0
    assert page.locator(".note-preview").first.is_hidden()
    # Nothing in a card or the header ends in "…" or is clamped to a few lines.
    cut = page.eval_on_selector_all(
        ".card *, .contact-header *",
        """els => els.filter(e => e.checkVisibility() && !e.closest('.visually-hidden')).filter(e => {
            const s = getComputedStyle(e);
            return (s.textOverflow === 'ellipsis' && s.overflow !== 'visible') || s.webkitLineClamp !== 'none';
        }).map(e => e.outerHTML.slice(0, 100))""",
    )
    assert cut == []

    # Exact times with their zone take the place of "3 hours ago".
    exact = page.eval_on_selector(
        f"{ARTICLES} time[data-exact]",
        "t => ({after: getComputedStyle(t, '::after').content, exact: t.dataset.exact, "
        "size: getComputedStyle(t).fontSize})",
    )
    assert exact["after"] == json.dumps(exact["exact"]) and exact["size"] == "0px"
    assert re.search(r"\d\d:\d\d:\d\d \S+$", exact["exact"])  # Lisbon: WET or WEST

    # What is printed and when.
    expect(page.locator("[data-print-filters]")).to_have_text("Showing: all activity")
    expect(page.locator("[data-print-date]")).to_have_text(re.compile(r"^Page generated "))
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    expect(page.locator("[data-print-date]")).to_have_text(
        re.compile(r"^Printed \w+day, \d+ \w+ \d{4} at \d\d:\d\d:\d\d \S+$")
    )
    screenshot(page, "print-hostile", full_page=True)
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    watch.assert_clean()


def test_print_button_loads_a_short_timeline_first(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_page()
    page.add_init_script(COUNT_PRINTS)
    page.goto(app_server.timeline_url("northwind", "ct_ada"))
    total = int(page.locator(ARTICLES).first.get_attribute("aria-setsize") or "-1")
    assert 50 < total <= 500
    page.get_by_role("button", name="Print").click()
    page.wait_for_function("() => window.__prints === 1", timeout=30_000)
    assert page.locator(ARTICLES).count() == total
    assert page.locator("#pager [data-timeline-end]").count() == 1
    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("[data-print-note]").inner_text() == ""  # all of it: nothing to explain
    watch.assert_clean()


def test_print_button_says_what_a_long_timeline_printout_holds(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_page()
    page.add_init_script(COUNT_PRINTS)
    page.goto(app_server.timeline_url("northwind", "ct_heavy"))
    loaded = page.locator(ARTICLES).count()
    page.get_by_role("button", name="Print").click()
    page.wait_for_function("() => window.__prints === 1")
    assert page.locator(ARTICLES).count() == loaded  # 5,200 is too many to load for paper
    message = f"Printing the {loaded} activities loaded; the timeline has 5,200."
    expect(page.locator("[data-print-status]")).to_have_text(message)
    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    expect(page.locator("[data-print-note]")).to_have_text(message)
    expect(page.locator("[data-print-note]")).to_be_visible()
    watch.assert_clean()


def test_without_javascript_there_is_no_print_button_but_print_still_works(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    page = open_page(java_script_enabled=False)
    page.goto(app_server.timeline_url("northwind", "ct_ada", "by=staff&inline=1"))
    assert page.locator("[data-print]").is_hidden()
    page.emulate_media(media="print")
    assert page.eval_on_selector_all(ARTICLES, "els => els.filter(e => !e.checkVisibility()).length") == 0
    expect(page.locator("[data-print-filters]")).to_have_text("Showing: Staff")
    assert _visible_controls(page) == []
    watch.assert_clean()


def test_actor_chips_and_keep_looking_pass_axe(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch, screenshot: Callable[..., None]
) -> None:
    page = open_page(phone=True)
    page.goto(app_server.timeline_url("northwind", "ct_heavy", "by=assistant&type=segment_removed"))
    expect(page.locator("[data-keep-looking]")).to_contain_text("No more AI-assistant activity of these types")
    # The chips may sit in a sheet: open it so that axe sees them.
    page.evaluate("() => { const sheet = document.getElementById('filter-sheet'); if (sheet) sheet.showModal(); }")
    expect(page.locator("input[type=checkbox][name=by][value=assistant]")).to_be_checked()
    screenshot(page, "actor-chips-phone")
    _axe_clean(page)
    page.evaluate("() => { const sheet = document.getElementById('filter-sheet'); if (sheet) sheet.close(); }")
    _axe_clean(page)
    # Keep looking goes on by htmx, and only when asked.
    before = page.locator("[data-keep-looking]").get_attribute("data-keep-looking")
    page.get_by_role("link", name="keep looking").click()
    page.wait_for_function(
        "() => document.querySelector('#pager [data-timeline-end]') || "
        "document.querySelectorAll('[data-keep-looking]').length === 1 && !document.querySelector('.htmx-request')"
    )
    assert before == "200"
    watch.assert_clean()
