"""Phone layout, tap targets, hostile content and accessibility (axe) of the timeline page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES

pytestmark = pytest.mark.browser

ORG = "northwind"
TAP_TARGET_PX = 44
AXE_RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}


def _boxes(page: Page, selector: str) -> list[dict[str, Any]]:
    return list(
        page.eval_on_selector_all(
            selector,
            """els => els.map(e => {
                 const r = e.getBoundingClientRect();
                 return {text: e.innerText.trim(), width: r.width, height: r.height, right: r.right};
               })""",
        )
    )


@pytest.mark.parametrize("contact_id", ["ct_ada", "ct_hostile"])
def test_phone_has_no_sideways_scroll_and_tap_targets_are_big_enough(
    contact_id: str,
    app_server: AppServer,
    open_page: OpenPage,
    watch: BrowserWatch,
    screenshot: Callable[..., None],
) -> None:
    page = open_page(phone=True)
    page.goto(app_server.timeline_url(ORG, contact_id))
    expect(page.locator(ARTICLES).first).to_be_visible()

    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px wide"
    too_wide = [a for a in _boxes(page, ARTICLES) if a["right"] > PHONE["width"] + 0.5]
    assert not too_wide, f"{len(too_wide)} cards stick out of the screen, e.g. {too_wide[0]}"

    # The chips are in the filter sheet on a phone: its button, then every chip, big enough to tap.
    opener = page.get_by_role("button", name="Filter", exact=True).bounding_box()
    assert opener is not None and opener["height"] >= TAP_TARGET_PX
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("#filter-sheet")).to_be_visible()
    chips = _boxes(page, "#filters label.filter-chip")
    assert page.locator("#filters label.filter-chip:has(input[name=type])").count() == 8  # the activity types
    assert page.locator("#filters label.filter-chip:has(input[name=by])").count() == 3  # staff, AI assistant, system
    assert len(chips) == 8 + 3
    small = [c for c in chips if c["height"] < TAP_TARGET_PX or c["width"] < TAP_TARGET_PX]
    assert not small, f"filter chips smaller than {TAP_TARGET_PX}px: {small}"
    page.get_by_role("button", name="Done").click()
    if contact_id == "ct_ada":  # more than one page: the pager's button is there
        older = page.get_by_role("link", name="Older activities").bounding_box()
        assert older is not None
        assert older["height"] >= TAP_TARGET_PX, f"'Older activities' is {older['height']}px high"

    screenshot(page, f"{contact_id}-phone")
    screenshot(page, f"{contact_id}-phone-full", full_page=True)
    watch.assert_clean()


_WRAPPED_LABELS = """
els => els.filter(e => e.getClientRects().length).flatMap(e => {
  // Line boxes of the visible label text (screen-reader-only text is left out).
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  const tops = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || node.parentElement.closest('.visually-hidden')) { continue; }
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) { if (rect.width > 0) { tops.add(Math.round(rect.top)); } }
  }
  const label = e.innerText.trim().replace(/\\s+/g, ' ');
  return tops.size > 1 ? [`${e.tagName.toLowerCase()}.${e.className} "${label}"`] : [];
})
"""


@pytest.mark.parametrize("contact_id", ["ct_ada", "ct_hostile"])
def test_phone_button_labels_stay_on_one_line(
    contact_id: str, app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    """Long upstream values (e-mails, phone numbers) must not squeeze a button until its label breaks ("Co/py")."""
    page = open_page(phone=True)
    page.goto(app_server.timeline_url(ORG, contact_id))
    expect(page.locator(ARTICLES).first).to_be_visible()
    wrapped = page.eval_on_selector_all("button, .button", _WRAPPED_LABELS)
    assert wrapped == [], f"{len(wrapped)} button labels wrap onto two lines on a phone"
    watch.assert_clean()


@pytest.mark.parametrize("contact_id", ["ct_ada", "ct_hostile"])
def test_desktop_renders_cleanly(
    contact_id: str,
    app_server: AppServer,
    open_page: OpenPage,
    watch: BrowserWatch,
    screenshot: Callable[..., None],
) -> None:
    """Console errors, CSP violations, failed loads or a script from upstream data fail this test."""
    page = open_page()
    page.goto(app_server.timeline_url(ORG, contact_id))
    expect(page.locator(ARTICLES).first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, f"{contact_id}-desktop")
    watch.assert_clean()


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} [{len(violation['nodes'])} nodes]"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '').replace(chr(10), ' / ')}")
            lines.append(f"      {node['html'][:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_axe_finds_no_violations(phone: bool, app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    page = open_page(phone=phone)
    page.goto(app_server.timeline_url(ORG, "ct_ada"))
    expect(page.locator(ARTICLES).first).to_be_visible()
    results = Axe().run(page, options=AXE_RULES)
    violations = results.response["violations"]
    assert results.violations_count == 0, "axe:\n" + _describe(violations)
    watch.assert_clean()


def test_times_follow_the_browsers_zone_and_a_changed_zone_is_remembered_for_the_next_page(
    app_server: AppServer, open_page: OpenPage, watch: BrowserWatch
) -> None:
    # The browser is in Europe/Lisbon (WET in winter); the cookie remembers Tokyo,
    # as if the viewer had travelled since. This page is in the remembered zone, and
    # once the browser is idle the cookie follows the browser, for the next page.
    page = open_page()
    page.context.add_cookies([{"name": "tz", "value": "Asia/Tokyo", "url": app_server.base_url}])
    page.add_init_script(  # counts asks for the zone before the page is ready (each costs ~100 ms on a phone)
        "window.zoneAsks = 0; const Format = Intl.DateTimeFormat;"
        "Intl.DateTimeFormat = function (...args) { window.zoneAsks++; return Format(...args); };"
        "document.addEventListener('DOMContentLoaded', () => { window.zoneAsksWhenReady = window.zoneAsks; });"
    )
    page.goto(f"/orgs/{ORG}/contacts/ct_ada/")
    assert page.evaluate("window.zoneAsksWhenReady") == 0  # not on the way to the first paint
    assert page.locator("body").get_attribute("data-time-zone") == "Asia/Tokyo"
    assert "JST" in (page.locator("article time").first.get_attribute("data-exact") or "")
    page.wait_for_function("() => document.cookie.includes('tz=Europe/Lisbon')", timeout=15_000)
    page.reload()
    assert page.locator("body").get_attribute("data-time-zone") == "Europe/Lisbon"
    assert "WET" in (page.locator("article time").first.get_attribute("data-exact") or "")
    watch.assert_clean()
