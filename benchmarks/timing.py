"""Timing helpers shared by the benchmark's sections: a lean HTTP client, a series of samples, percentiles.

The timed series use TimingClient, not requests: requests spends about 2 ms of
its own on every call on a 2-core machine, which would be counted as the
server's time, and no browser pays it.
"""

from __future__ import annotations

import gzip
import http.client
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchmarks.servers import server_timing


@dataclass
class Series:
    label: str
    ms: list[float] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    failures: int = 0

    def p(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100)."""
        if not self.ms:
            return math.nan
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

    def timing_p50(self, name: str) -> float:
        values = [t[name] for t in self.timings if name in t]
        return statistics.median(values) if values else math.nan


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class TimingClient:
    """GETs on one kept-alive HTTP/1.1 connection, with Python's http.client.

    Like a browser, it asks for gzip and decodes what it gets (that is part of
    the time). Cookies are sent as given, and none is ever added: a client made
    without a `tz` cookie stays a first-time visitor.
    """

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Accept-Encoding": "gzip", **headers}
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        for attempt in range(2):  # a kept-alive connection the server closed (max_requests): one fresh try
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request("GET", path, headers={**self.headers, **(headers or {})})
                response = self.connection.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
                continue
            if response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return Reply(response.status, {k: v for k, v in response.getheaders()}, body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def timed_get(
    client: TimingClient,
    path: str,
    series: Series,
    *,
    headers: dict[str, str] | None = None,
    check: Callable[[Reply], bool] | None = None,
) -> Reply | None:
    """One timed GET; a refused check or a non-200 counts as a failure, not as a sample."""
    started = time.perf_counter()
    try:
        response = client.get(path, headers=headers)
    except (http.client.HTTPException, OSError):
        series.failures += 1
        return None
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or (check is not None and not check(response)):
        series.failures += 1
        return response
    series.ms.append(elapsed)
    if "Server-Timing" in response.headers:
        series.timings.append(server_timing(response.headers["Server-Timing"]))
    return response


def interleaved(samples: int, warmup: int, steps: Sequence[Callable[[bool], object]]) -> None:
    """Run each step once per round, round after round, so drift hits every series alike."""
    for round_ in range(warmup + samples):
        for step in steps:
            step(round_ >= warmup)


def row(series: Series) -> str:
    failures = f"  failures {series.failures}" if series.failures else ""
    return f"  {series.label:<38} {series.p(50):8.1f} {series.p(95):8.1f} {len(series.ms):6d}{failures}"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"
