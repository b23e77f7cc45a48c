"""The first view at a realistic upstream latency: how long a new visitor waits for a contact's page.

A second demo Invent answers every call after 150 ms, and a dashboard without
the upstream cache reads it, so every request pays its rounds in full. For a
few ordinary demo contacts this times, per round of samples:

  (i)   one upstream round trip: the bare 50-activity page, straight to the demo,
  (ii)  the dashboard's full page (no htmx headers, signed in, no `tz` cookie,
        as a first-ever visit), and its ratio to (i),
  (iii) the spans request the page's spans-loader makes once it is on screen
        (state spans and the header's history), sent right after (ii),

and counts, in the demo's access log, (iv) the upstream calls made while
serving the full page and while serving the spans request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import requests

from benchmarks.servers import (
    DASHBOARD_APP,
    DEMO_APP,
    dashboard_env,
    log_size,
    running,
    sign_in,
    spans_loader_url,
    start_gunicorn,
    upstream_lines_since,
)
from benchmarks.timing import Reply, Series, TimingClient, interleaved, row, timed_get, verdict

LATENCY_MS = 150
PAGE_SIZE = 50
HX = {"HX-Request": "true"}
WARMUP_ROUNDS = 2  # a worker's first request loads templates and opens the database
COUNT_REPEATS = 3  # requests averaged per upstream-call count (the cache is off: each pays in full)
CONTACTS = (("northwind", "ct_ada"), ("northwind", "ct_heavy"), ("northwind-emea", "ct_bruno"))  # README's ordinary

TARGET_RATIO = 1.2  # the full page within 1.2 upstream round trips
TARGET_PAGE_CALLS = 2.0  # the timeline page and the contact record, nothing else


@dataclass
class ContactFirstView:
    org: str
    contact: str
    round_trip: Series  # (i) for this contact's own first page
    page: Series  # (ii)
    spans: Series  # (iii)
    page_then_spans: Series  # (ii) + (iii), sample by sample
    page_calls: float = 0.0  # (iv)
    spans_calls: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.org}/{self.contact}"


@dataclass
class FirstViewResult:
    latency_ms: int
    samples: int
    contacts: list[ContactFirstView] = field(default_factory=list)

    @property
    def reference(self) -> ContactFirstView:
        """ct_ada's (i): "one upstream round trip" for every ratio."""
        return self.contacts[0]


def activities_path(org: str, contact: str) -> str:
    return f"/orgs/{org}/contacts/{contact}/activities?page=1&take={PAGE_SIZE}"


def timeline_path(org: str, contact: str) -> str:
    return f"/orgs/{org}/contacts/{contact}/"


def cookie_header(session: requests.Session) -> dict[str, str]:
    """The signed-in session's cookies (session and CSRF), and no `tz`: a first-ever visit."""
    cookies = {k: v for k, v in session.cookies.get_dict().items() if k != "tz"}
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def has_spans_loader(reply: Reply) -> bool:
    return spans_loader_url(reply.text) is not None


def time_contact(api: TimingClient, dashboard: TimingClient, org: str, contact: str, samples: int) -> ContactFirstView:
    """Rounds of (i), then (ii) immediately followed by (iii) on the URL (ii) named, as htmx would."""
    view = ContactFirstView(
        org,
        contact,
        round_trip=Series("(i) one upstream round trip"),
        page=Series("(ii) full page, first view"),
        spans=Series("(iii) then the spans request"),
        page_then_spans=Series("    full page + spans"),
    )

    def bare(keep: bool) -> None:
        timed_get(api, activities_path(org, contact), view.round_trip if keep else Series("warm-up"))

    def page_then_spans(keep: bool) -> None:
        page = view.page if keep else Series("warm-up")
        spans = view.spans if keep else Series("warm-up")
        before = len(page.ms)
        reply = timed_get(dashboard, timeline_path(org, contact), page, check=has_spans_loader)
        url = spans_loader_url(reply.text) if reply is not None and reply.status == 200 else None
        if url is None or len(page.ms) == before:
            return
        spans_before = len(spans.ms)
        timed_get(dashboard, url, spans, headers=HX)
        if keep and len(spans.ms) > spans_before:
            view.page_then_spans.ms.append(page.ms[-1] + spans.ms[-1])

    interleaved(samples, WARMUP_ROUNDS, [bare, page_then_spans])
    return view


def calls_per_request(log: Path, send: Callable[[], object]) -> float:
    """Upstream calls per request, from the demo's access log, over a few repeats of `send`."""
    start = log_size(log)
    for _ in range(COUNT_REPEATS):
        send()
    return upstream_lines_since(log, start) / COUNT_REPEATS


def count_calls(view: ContactFirstView, base_url: str, session: requests.Session, log: Path) -> None:
    """(iv): the full page's calls, then the calls of the spans request that page names."""
    headers = cookie_header(session)
    page_url = base_url + timeline_path(view.org, view.contact)

    def get(url: str, extra: Mapping[str, str]) -> requests.Response:
        response = requests.get(url, headers={**headers, **extra}, timeout=30)
        response.raise_for_status()
        return response

    view.page_calls = calls_per_request(log, lambda: get(page_url, {}))
    spans_url = spans_loader_url(get(page_url, {}).text)
    if spans_url is not None:
        view.spans_calls = calls_per_request(log, lambda: get(base_url + spans_url, HX))


def measure(
    env: Mapping[str, str], workdir: Path, *, samples: int, budget: int, workers: int, threads: int
) -> FirstViewResult:
    """Start the 150 ms demo and an uncached dashboard on it, time and count, stop both."""
    result = FirstViewResult(LATENCY_MS, samples)
    log = workdir / f"demo-{LATENCY_MS}ms-access.log"
    demo = start_gunicorn(
        name=f"demo-invent-{LATENCY_MS}ms", app=DEMO_APP, log_dir=workdir, workers=1, threads=16,
        env={**env, "DEMO_INVENT_LATENCY_MS": str(LATENCY_MS)}, access_log=log,
    )  # fmt: skip
    with ExitStack() as stack:
        stack.enter_context(running(demo))
        dashboard = start_gunicorn(
            name="dashboard-first-view", app=DASHBOARD_APP, log_dir=workdir, workers=workers, threads=threads,
            env=dashboard_env(env, upstream_url=demo.url, budget=budget, INVENT_CACHE_SECONDS="0"),
            access_log=workdir / "first-view-access.log",
        )  # fmt: skip
        stack.enter_context(running(dashboard))
        session = sign_in(dashboard.url)
        api = TimingClient(demo.url, {"Authorization": "Bearer demo"})
        to_dashboard = TimingClient(dashboard.url, cookie_header(session))
        stack.callback(api.close)
        stack.callback(to_dashboard.close)
        for org, contact in CONTACTS:
            print(f"    {org}/{contact}...", flush=True)
            view = time_contact(api, to_dashboard, org, contact, samples)
            count_calls(view, dashboard.url, session, log)
            result.contacts.append(view)
    return result


def ratio(view: ContactFirstView, round_trip_ms: float) -> float:
    return view.page.p(50) / round_trip_ms


def report(result: FirstViewResult) -> None:
    ref = result.reference
    rt = ref.round_trip.p(50)
    print()
    print(
        f"  first view at {result.latency_ms} ms upstream latency (a new visitor: no tz cookie; upstream cache off;"
        f" {result.samples} samples)"
    )
    print(f"  {ref.label:<38} {'p50 ms':>8} {'p95 ms':>8} {'n':>6}")
    for series in (ref.round_trip, ref.page, ref.spans, ref.page_then_spans):
        print(row(series))
    print(
        f"  Server-Timing p50 (ii): upstream {ref.page.timing_p50('upstream'):.1f} ms, app"
        f" {ref.page.timing_p50('app'):.1f} ms; (iii): upstream {ref.spans.timing_p50('upstream'):.1f} ms,"
        f" app {ref.spans.timing_p50('app'):.1f} ms"
    )
    print(
        f"  first response = {ratio(ref, rt):.2f} x one upstream round trip ({ref.page.p(50):.0f} ms /"
        f" {rt:.0f} ms); spans and header state follow after {ref.spans.p(50):.0f} ms"
        f" (complete at {ref.page_then_spans.p(50):.0f} ms)"
    )
    print(
        f"  upstream calls before the first response: {ref.page_calls:.1f}; by the spans request: {ref.spans_calls:.1f}"
    )
    print()
    header = (
        f"  {'contact':<26} {'own RT':>7} {'page p50':>9} {'x RT':>6} {'spans p50':>10} {'calls page':>11} {'spans':>6}"
    )
    print(header + "  verdicts (x RT, calls)")
    for view in result.contacts:
        r = ratio(view, rt)
        failures = view.page.failures + view.spans.failures
        print(
            f"  {view.label:<26} {view.round_trip.p(50):7.0f} {view.page.p(50):9.0f} {r:6.2f} {view.spans.p(50):10.0f}"
            f" {view.page_calls:11.1f} {view.spans_calls:6.1f}  {verdict(r <= TARGET_RATIO)},"
            f" {verdict(view.page_calls <= TARGET_PAGE_CALLS)}" + (f"  failures {failures}" if failures else "")
        )
    print("  (ms; x RT: the full page over ct_ada's (i), one upstream round trip; own RT: that contact's (i))")


def report_targets(result: FirstViewResult) -> None:
    ref = result.reference
    r = ratio(ref, ref.round_trip.p(50))
    print(
        f"    first view <= {TARGET_RATIO:g} x one upstream round trip at {result.latency_ms} ms: x{r:.2f} "
        f"-> {verdict(r <= TARGET_RATIO)}"
    )
    print(
        f"    upstream calls before the first response <= {TARGET_PAGE_CALLS:g}: {ref.page_calls:.1f} "
        f"-> {verdict(ref.page_calls <= TARGET_PAGE_CALLS)}"
    )
