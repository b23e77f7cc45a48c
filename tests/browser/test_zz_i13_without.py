"""Scratch (not in the repo): the phone tests with one feature taken away at a time, through Playwright
routes that serve the page's CSS/JS without it. Each must fail."""
import os, re
import pytest
import tests.browser.test_phone_browser as phone
from tests.browser.test_phone_browser import *  # noqa: F401,F403  (the tests themselves)

MODE = os.environ.get("WITHOUT", "")
if not MODE:
    pytest.skip("a scratch check, only with WITHOUT=...", allow_module_level=True)
ORIGINAL_OPEN = phone.open_phone

def strip_css(css: str) -> str:
    if MODE == "layout":  # the whole phone-first section (header, bar, cards and rows)
        a = css.index("/* === Phone-first reading (issue 13)")
        b = css.index("/* A slow Invent (timeline/streaming.py)")
        return css[:a] + css[b:]
    if MODE == "sticky":
        return css.replace("position: sticky; top: 0; z-index: 20;", "")
    if MODE == "focus":
        return css.replace("html { scroll-padding-top: calc(var(--bar-h) + 8px); }", "")
    return css

def strip_js(js: str) -> str:
    if MODE == "focus":
        return re.sub(r"// 2\. A card that gets the focus.*?\n  \}\);\n", "", js, flags=re.S)
    if MODE == "details":
        return js.replace('document.cookie = "contact_details="', 'void "contact_details="')
    return js

def open_without(open_page, app_server, **context):
    page = ORIGINAL_OPEN(open_page, app_server, **context)
    def css(route):
        response = route.fetch()
        route.fulfill(response=response, body=strip_css(response.text()))
    def js(route):
        response = route.fetch()
        route.fulfill(response=response, body=strip_js(response.text()))
    page.route(re.compile(r"/static/css/app\.[0-9a-f]+\.css$"), css)
    page.route(re.compile(r"/static/js/reading\.[0-9a-f]+\.js$"), js)
    return page

phone.open_phone = open_without
