import time
import pytest
from tests.browser.conftest import AppServer, BrowserWatch, OpenPage
from tests.browser.pages import ARTICLES, article_ids, load_next_page, wait_idle
pytestmark = pytest.mark.browser

def test_dbg(app_server: AppServer, open_page: OpenPage, watch: BrowserWatch) -> None:
    t0 = time.monotonic()
    page = open_page()
    page.on("request", lambda r: print(f"{time.monotonic()-t0:.2f} REQ", r.url[30:140]) if "/spans/" in r.url or "newer" in r.url else None)
    page.on("requestfinished", lambda r: print(f"{time.monotonic()-t0:.2f} FIN", r.url[30:140]) if "/spans/" in r.url or "newer" in r.url else None)
    page.on("requestfailed", lambda r: print(f"{time.monotonic()-t0:.2f} FAIL", r.url[30:140]) if "/spans/" in r.url or "newer" in r.url else None)
    page.on("console", lambda m: print(f"{time.monotonic()-t0:.2f} CONSOLE", m.text[:100]))
    page.on("framenavigated", lambda f: print(f"{time.monotonic()-t0:.2f} NAV", f.url[30:140]))
    page.goto(app_server.timeline_url("northwind", "ct_heavy"))
    while page.locator(ARTICLES).count() <= 229:
        load_next_page(page)
    link = str(page.locator(ARTICLES).nth(229).locator("a[data-permalink]").get_attribute("href"))
    print("GOTO", link)
    page.goto(app_server.base_url + link)
    page.wait_for_timeout(3000)
    watch.errors.clear()
