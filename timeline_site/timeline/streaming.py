"""A full page in two parts when Invent is slow: its frame at once, its cards in the same response.

The page waits a moment (TIMELINE_STREAM_AFTER_MS) for its first upstream round. Answered in time, it is
rendered whole with its real status. Not answered, the frame (the site bar, the header from what is known,
a loading feed) is sent with status 200 and the page body follows when Invent answers; a failure then can
only be said in the page (an error block), since the status line has gone. Django's GZipMiddleware
compresses the stream part by part and flushes each, so the frame reaches the browser at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

# Where the frame ends (timeline/timeline.html writes it after the frame): a comment no value from
# Invent can forge, as every value is escaped.
STREAM_MARK = "<!-- the timeline follows -->"


def stream_wait_seconds() -> float | None:
    """How long a full page waits for its first round before it streams; None: it never streams."""
    wait = settings.TIMELINE_STREAM_AFTER_MS
    return wait / 1000 if wait > 0 else None


def streamed_page(
    request: HttpRequest, *, template: str, frame: dict[str, Any], body: Callable[[], str]
) -> StreamingHttpResponse:
    """`template` rendered as its frame now (with `streaming`), then `body()` in place of the frame's end."""
    rendered = render_to_string(template, {**frame, "streaming": True}, request)
    head, tail = rendered.split(STREAM_MARK, 1)
    zone = timezone.get_current_timezone()  # the middleware that set it is done before the body is read

    def parts() -> Iterator[str]:
        yield head
        with timezone.override(zone):
            yield body() + tail

    return StreamingHttpResponse(parts(), content_type="text/html; charset=utf-8")
