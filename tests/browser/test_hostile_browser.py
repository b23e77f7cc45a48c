"""The demo's hostile contact in a real browser: nothing it carries may run or phone home."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request

from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES, scroll_to_end

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_hostile_contact_is_inert(
    app_server: AppServer,
    open_page: OpenPage,
    watch: BrowserWatch,
    screenshot: Callable[[Page, str], None],
    phone: bool,
) -> None:
    page = open_page(phone=phone)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    failed: list[Request] = []
    page.on("requestfailed", lambda request: failed.append(request))

    page.goto(app_server.timeline_url("northwind", "ct_hostile"))
    assert page.locator(ARTICLES).count() > 10
    # Open every long note and hover/focus every time, so lazy content and tooltips render too.
    for summary in page.locator("details.note-more > summary").all():
        summary.click()
    page.locator("time").first.focus()
    scroll_to_end(page, max_pages=3)
    page.wait_for_timeout(300)  # give any injected handler (onerror, hx-trigger=load) its chance
    screenshot(page, f"hostile-{'phone' if phone else 'desktop'}")

    own_origin = urlsplit(app_server.base_url).netloc
    foreign = [url for url in requests if urlsplit(url).scheme in ("http", "https")
               and urlsplit(url).netloc != own_origin]  # fmt: skip
    assert foreign == []
    assert not [url for url in requests if urlsplit(url).scheme in ("javascript", "data")]
    # `hx-get="/x"` written inside a note must never be processed by htmx.
    assert not [url for url in requests if urlsplit(url).path == "/x"]
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]
    assert failed == []
    watch.assert_clean()  # no dialog opened, no console error (a blocked script would log one)
