"""Helpers that read and drive the timeline page the way a reader would."""

from __future__ import annotations

from playwright.sync_api import Page

ARTICLES = "article[data-activity-id]"


def article_ids(page: Page) -> list[str]:
    return list(page.eval_on_selector_all(ARTICLES, "els => els.map(e => e.dataset.activityId)"))


def article_types(page: Page) -> list[str]:
    return list(page.eval_on_selector_all(ARTICLES, "els => els.map(e => e.dataset.activityType)"))


def wait_for_more_articles(page: Page, than: int, *, timeout_ms: int = 20_000) -> None:
    """Until the feed holds more than `than` articles, the timeline has ended, or the pager shows an error."""
    page.wait_for_function(
        """n => document.querySelectorAll('article[data-activity-id]').length > n
              || document.querySelector('#pager [data-timeline-end], #pager.pager-error')""",
        arg=than,
        timeout=timeout_ms,
    )


def wait_idle(page: Page) -> None:
    """Until no htmx request is in flight (the feed's aria-busy, kept by app.js)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request') && "
        "document.getElementById('timeline-feed')?.getAttribute('aria-busy') !== 'true'"
    )


def scroll_to_bottom(page: Page) -> None:
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")


def load_next_page(page: Page) -> int:
    """Scroll to the bottom as a reader would and wait for the next page (or the end, or an error)."""
    before = page.locator(ARTICLES).count()
    scroll_to_bottom(page)
    wait_for_more_articles(page, before)
    wait_idle(page)
    return page.locator(ARTICLES).count()


_SCROLL_TO_END = """
async ({maxPages, stepMs}) => {
  const feed = () => document.querySelectorAll('article[data-activity-id]').length;
  const ended = () => document.querySelector('#pager [data-timeline-end]');
  const failed = () => document.querySelector('#pager.pager-error');
  const busy = () => document.querySelector('.htmx-request')
    || document.getElementById('timeline-feed').getAttribute('aria-busy') === 'true';
  const frame = () => new Promise(resolve => requestAnimationFrame(resolve));
  async function until(check) {
    const deadline = performance.now() + stepMs;
    while (!check()) {
      if (performance.now() > deadline) { return false; }
      await frame();
    }
    return true;
  }
  for (let pages = 0; pages <= maxPages; pages++) {
    if (ended()) { return {pages, ended: true}; }
    if (failed()) { return {pages, error: document.getElementById('pager').innerText}; }
    const before = feed();
    window.scrollTo(0, document.documentElement.scrollHeight);
    if (!await until(() => feed() > before || ended() || failed()) || !await until(() => !busy())) {
      return {pages, error: `no new articles within ${stepMs} ms after ${before}`};
    }
  }
  return {pages: maxPages, error: `no end of the timeline after ${maxPages} pages`};
}
"""


def scroll_to_end(page: Page, *, max_pages: int, step_ms: int = 20_000) -> int:
    """Scroll until `[data-timeline-end]` appears, bounded by `max_pages`; returns the pages loaded.

    The loop runs inside the page (scroll to the bottom, wait a frame at a time
    for the next page to land), so a 100-page timeline costs no Python round trips.
    """
    result = page.evaluate(_SCROLL_TO_END, {"maxPages": max_pages, "stepMs": step_ms})
    assert result.get("ended"), result
    return int(result["pages"])
