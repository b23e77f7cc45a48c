"""Server-Timing on every dynamic response: where did the time go?

`upstream` is the time spent waiting on Invent (timeline_site.invent.client
adds to the `upstream_ms` context variable), `app` the dashboard's own work
(validation, access checks, parsing, templates, database) and `total` both.
Browsers show these in the network panel; the benchmark reads them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from timeline_site.invent.client import upstream_ms


def server_timing_value(*, upstream: float, total: float) -> str:
    own = max(total - upstream, 0.0)
    return f'upstream;dur={upstream:.1f};desc="Invent", app;dur={own:.1f};desc="Dashboard", total;dur={total:.1f}'


class ServerTimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Server threads are reused across requests and keep their context:
        # start every request from zero.
        token = upstream_ms.set(0.0)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            total = (time.perf_counter() - started) * 1000
            response["Server-Timing"] = server_timing_value(upstream=upstream_ms.get(), total=total)
            return response
        finally:
            upstream_ms.reset(token)
