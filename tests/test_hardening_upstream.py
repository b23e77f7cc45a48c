"""The service layer against a hostile or merely unusual upstream: any date the schema
allows, a body that trickles in, a page that would spend the budget for everyone, the
key on a debug page, and root-relative image URLs.

The deadline tests run a real HTTP server on 127.0.0.1 (a thread of http.server), as
only real sockets show what a per-read timeout does and does not bound.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import urllib3.connection
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter

from timeline_site.core.upstream import UpstreamAllowanceMiddleware
from timeline_site.demo_invent.seed import FORMULA_NOTE, UNPLACEABLE_AT
from timeline_site.demo_invent.transport import DemoInventAdapter
from timeline_site.invent import budget
from timeline_site.invent.budget import (
    REQUEST_CAP_REACHED,
    USER_SHARE_SPENT,
    budget_used,
    current_allowance,
    request_allowance,
    spend_upstream_call,
    user_prefix,
)
from timeline_site.invent.cache import cached_upstream
from timeline_site.invent.client import DEMO_BASE_URL, MAX_BODY_BYTES, InventClient
from timeline_site.invent.errors import InventAllowanceSpent, InventRateLimited, InventUnavailable
from timeline_site.invent.parse import parse_activity, parse_items, safe_url, timestamp

KEY = "sk_live_NEVER_ON_A_PAGE_0123456789"
# Each attempt may take connect + read = 0.8 s in these tests; a test allows this much on top.
CONNECT, READ = 0.3, 0.5
SLACK = 0.5


# --- A real, misbehaving HTTP server ----------------------------------------------

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def _trickle(handler: BaseHTTPRequestHandler, data: bytes, every: float = 0.2) -> None:
    """Send `data` a byte at a time; stop quietly once the client has hung up."""
    try:
        for byte in data:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(every)
    except OSError:
        pass


def trickled_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.flush()
    _trickle(handler, b"[" + b" " * 24)  # ~5 s, then the server gives up (the old client waited it out)


def trickled_body_until_close(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.flush()
    _trickle(handler, b"[" + b" " * 23 + b"]")  # no length: the end of the body is the close


def trickled_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    _trickle(handler, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"x" * 10)


def slow_gateway_error(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(0.4)  # within the read timeout: only the total can stop the retries
    handler.send_response(503)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def quick_page(handler: BaseHTTPRequestHandler) -> None:
    body = json.dumps([{"id": "a1", "type": "note_created", "created_at": "1959-06-01T09:30:00Z"}]).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Server:
    def __init__(self) -> None:
        self.behaviour: Behaviour = quick_page
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests += 1
                server.behaviour(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.close()


@pytest.fixture
def server(upstream: _Server) -> _Server:
    upstream.behaviour, upstream.requests = quick_page, 0
    return upstream


def real_client(base_url: str) -> InventClient:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
    return InventClient(base_url=base_url, api_key=KEY, connect_timeout=CONNECT, read_timeout=READ, session=session)


def timed_failure(client: InventClient, path: str = "/orgs/c/contacts/ct_1/activities") -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(InventUnavailable) as raised:
        client.get_json(path)
    return raised.value.message, time.monotonic() - started


# --- 7. An overall deadline on every upstream call ---------------------------------


@pytest.mark.parametrize("behaviour", [trickled_body, trickled_body_until_close, trickled_headers])
def test_a_trickling_answer_is_cut_off_at_the_deadline(server: _Server, behaviour: Behaviour) -> None:
    server.behaviour = behaviour
    message, elapsed = timed_failure(real_client(server.url))
    assert message == "Invent did not answer within 0.8 seconds."
    assert elapsed < CONNECT + READ + SLACK, f"held for {elapsed:.2f} s"
    assert server.requests == 1  # a deadline is not retried


def test_every_deadline_is_kept_by_one_thread(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch per attempt, one watchdog per process: a call starts no thread."""
    client = real_client(server.url)
    client.get_json("/orgs/c/contacts/ct_1/activities")  # the watchdog, started on first use
    caller, started = threading.current_thread(), []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        if threading.current_thread() is caller:  # not the test server's own threads
            started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for _ in range(20):
        client.get_json("/orgs/c/contacts/ct_1/activities")
    assert started == []
    assert [t.name for t in threading.enumerate()].count("invent-deadlines") == 1


def test_a_nearer_deadline_wakes_the_watchdog_and_a_stopped_watch_never_expires() -> None:
    from timeline_site.invent.client import _Watch

    far, stopped = _Watch(30), _Watch(0.05)
    stopped.stop()
    near = _Watch(0.1)  # queued after a deadline 30 s away: the watchdog must not sleep through it
    deadline = time.monotonic() + 2
    while not near.expired and time.monotonic() < deadline:
        time.sleep(0.01)
    assert near.expired and not far.expired and not stopped.expired
    far.stop()
    near.stop()


def test_retries_never_stretch_a_call_past_its_total(server: _Server) -> None:
    server.behaviour = slow_gateway_error  # 503 after 0.4 s, every time
    client = real_client(server.url)
    message, elapsed = timed_failure(client)
    assert "HTTP 503" in message
    # 0.4 + 0.2 (pause) + 0.4: a third attempt, after a 0.6 s pause, would not fit in 1.6 s.
    assert server.requests == 2
    assert elapsed < client.request_seconds + 0.2, f"held for {elapsed:.2f} s"


def test_a_prompt_answer_is_unaffected_and_the_connection_is_reused(server: _Server) -> None:
    client = real_client(server.url)
    for _ in range(3):
        data, _headers = client.get_json("/orgs/c/contacts/ct_1/activities")
        assert data[0]["id"] == "a1"
    time.sleep(CONNECT + READ + 0.2)  # every watch has expired by now: none may cut a pooled connection
    data, _headers = client.get_json("/orgs/c/contacts/ct_1/activities")
    assert data[0]["id"] == "a1"


def _largest_honest_item(n: int) -> dict[str, object]:
    """A 20,000-character note in a non-Latin script with four attachments at their documented maxima."""
    attachment = {"id": "f" * 36, "file_path": "p" * 2048, "file_url": "https://f.test/" + "u" * 2030,
                  "file_filename": "n" * 255, "file_mimetype": "m" * 255, "file_size": 1024}  # fmt: skip
    note = {"id": f"n{n}", "content": "漢" * 20_000, "attachments": [attachment] * 4}
    return {"id": f"a{n}", "type": "note_created", "created_at": "2026-11-01T10:00:00Z", "note": note}


@responses.activate
def test_a_body_past_what_100_items_need_is_refused() -> None:
    url = "https://api.invent.test/orgs/c/contacts/ct_1/activities"
    client = InventClient(base_url="https://api.invent.test", api_key=KEY)
    largest_page = json.dumps([_largest_honest_item(n) for n in range(100)], ensure_ascii=False).encode()
    assert len(largest_page) <= MAX_BODY_BYTES <= 10 * 1024 * 1024  # a few MiB, not 32
    responses.get(url, body=largest_page)
    responses.get(url, body=b"[" + b" " * MAX_BODY_BYTES + b"]")
    assert len(client.list_activities(org_id="c", contact_id="ct_1").items) == 100
    with pytest.raises(InventUnavailable, match="too large"):
        client.list_activities(org_id="c", contact_id="ct_1")


# --- 11. The key on Django's debug page ----------------------------------------------


def _failing_upstream_call(server: _Server, monkeypatch: pytest.MonkeyPatch) -> tuple[
    type[BaseException], BaseException, TracebackType
]:  # fmt: skip
    """An unexpected exception deep inside a real upstream call (in urllib3, mid-request)."""

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the upstream call broke")

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "getresponse", broken)
    try:
        real_client(server.url).get_json("/orgs/c/contacts/ct_1/activities")
    except RuntimeError:
        exc_type, exc, tb = sys.exc_info()
        assert exc_type is not None and exc is not None and tb is not None
        return exc_type, exc, tb
    raise AssertionError("the call did not fail")


@override_settings(DEBUG=True)  # the debug page is only shown with DEBUG on, when no filter cleans frames
def test_the_key_is_on_no_debug_page(server: _Server, monkeypatch: pytest.MonkeyPatch, rf: RequestFactory) -> None:
    reporter = ExceptionReporter(rf.get("/orgs/c/contacts/ct_1/"), *_failing_upstream_call(server, monkeypatch))
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "get_json" in html and "urlopen" in html  # the frames and their locals are on the page
    assert KEY not in html and KEY not in text
    assert "Bearer ********" in html  # the header is there, redacted


def test_the_key_is_not_kept_on_the_client() -> None:
    client = InventClient(base_url="https://api.invent.test", api_key=KEY)
    assert KEY not in repr(client) and KEY not in repr(vars(client))
    assert KEY not in repr(client.session.headers)
    assert client.session.headers["Authorization"] == f"Bearer {KEY}"  # still sent, of course


# --- 1. Every date the schema allows --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1959-06-01T09:30:00Z", datetime(1959, 6, 1, 9, 30, tzinfo=UTC)),
        ("1066-10-14T09:00:00Z", datetime(1066, 10, 14, 9, tzinfo=UTC)),
        ("0100-01-01T00:00:00Z", datetime(100, 1, 1, tzinfo=UTC)),
        ("1969-12-31T23:59:59.999999Z", datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2999-12-31T23:59:59Z", datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("3500-01-01T00:00:00Z", datetime(3500, 1, 1, tzinfo=UTC)),
        ("9999-12-29T00:00:00Z", datetime(9999, 12, 29, tzinfo=UTC)),
        ("0001-01-03T00:00:00Z", datetime(1, 1, 3, tzinfo=UTC)),
    ],
)
def test_any_date_python_can_place_is_read(value: str, expected: datetime) -> None:
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [UNPLACEABLE_AT, "0001-01-01T12:00:00+05:00", "9999-12-31T23:59:59Z", "9999-12-31T00:00:00-05:00", "0000-01-01"],
)
def test_only_what_python_cannot_place_in_every_zone_is_unreadable(value: str) -> None:
    assert timestamp(value) is None


def test_a_page_of_dates_before_1970_is_shown_whole() -> None:
    """A schema-faithful mock produced pages of such dates: the dashboard showed none of them."""
    items: list[object] = [
        {"id": f"a{n}", "type": "note_created", "created_at": f"{1900 + n}-05-01T10:00:00Z"} for n in range(60)
    ]
    activities, skipped = parse_items(items, parse_activity, what="activity")
    assert skipped == 0 and len(activities) == 60


# --- 2. One log line per page -----------------------------------------------------------


def test_unreadable_items_are_one_summary_line_per_page(caplog: pytest.LogCaptureFixture) -> None:
    items: list[object] = [
        *({"id": f"x{n}", "type": "note_created", "created_at": UNPLACEABLE_AT} for n in range(40)),
        *({"type": "note_created", "created_at": "2026-01-01T00:00:00Z"} for _ in range(5)),
        "garbage",
        {"id": "ok", "type": "note_created", "created_at": "2026-01-01T00:00:00Z"},
    ]
    with caplog.at_level(logging.DEBUG, logger="timeline_site.invent.parse"):
        activities, skipped = parse_items(items, parse_activity, what="activity")
    assert [a.id for a in activities] == ["ok"] and skipped == 46
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Skipped 46 unreadable activity item(s) of 47 on one page: "
        "40 no readable created_at, 5 no usable id, 1 not an object"
    )


# --- 12. Root-relative image URLs -------------------------------------------------------


@pytest.mark.parametrize("demo", [True, False])
def test_root_relative_urls_only_for_the_demos_assets(demo: bool) -> None:
    with override_settings(DEMO_INVENT_ENABLED=demo):
        for path in ("/orgs/c/contacts/ct_1/", "/accounts/logout/", "/", "/demo-invent/other/x.png"):
            assert safe_url(path) is None, path
        for path in (
            "/demo-invent/assets/../x",
            "/demo-invent/assets/a/b.png",
            "/demo-invent/assets/%2e%2e",
            "/demo-invent/assets/",
        ):
            assert safe_url(path) is None, path
        assert safe_url("/demo-invent/assets/avatar-grace.svg") == (
            "/demo-invent/assets/avatar-grace.svg" if demo else None
        )
        assert safe_url("https://files.invent.test/a.png") == "https://files.invent.test/a.png"


# --- The hostile demo contact ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_hostile_contact_shows_its_1959_note_and_counts_its_year_one_item() -> None:
    session = requests.Session()
    session.mount(DEMO_BASE_URL + "/", DemoInventAdapter())
    client = InventClient(base_url=DEMO_BASE_URL, api_key="demo", session=session)
    page = client.list_activities(org_id="northwind", contact_id="ct_hostile")
    assert not page.has_more
    oldest = page.items[-1]
    assert oldest.created_at == datetime(1959, 6, 1, 9, 30, tzinfo=UTC)
    assert oldest.note is not None and oldest.note.content.startswith("Account opened by post")
    raw = client.get_json("/orgs/northwind/contacts/ct_hostile/activities")[0]
    assert any(item.get("created_at") == UNPLACEABLE_AT for item in raw)
    unreadable = [item for item in raw if timestamp(item.get("created_at")) is None or "id" not in item]
    assert page.skipped == len(unreadable) >= 3  # year one, "not-a-date" and the one without an id
    assert FORMULA_NOTE in {a.note.content for a in page.items if a.note}
    avatars = {c.avatar for c in client.get_contact(org_id="northwind", contact_id="ct_hostile").channels}  # type: ignore[union-attr]
    assert "/demo-invent/assets/avatar-hostile.svg" in avatars


# --- 8. The per-request cap and the per-user share -----------------------------------------


@pytest.fixture
def store() -> Iterator[LocMemCache]:
    local = LocMemCache("hardening-budget-tests", {})
    yield local
    local.clear()


def spend(store: LocMemCache, *, shared: int = 100, per_user: int = 0) -> None:
    spend_upstream_call(per_minute=shared, per_user_per_minute=per_user, store=store)


def test_a_request_is_refused_past_its_cap_with_a_clear_message(store: LocMemCache) -> None:
    with request_allowance(user_key="user:1", max_calls=3) as allowance:
        for _ in range(3):
            spend(store)
        with pytest.raises(InventAllowanceSpent) as refused:
            spend(store)
    assert refused.value.message == REQUEST_CAP_REACHED
    assert "needed more of Invent than one request may use" in REQUEST_CAP_REACHED
    assert allowance.calls == 3 and budget_used(store=store) == 3  # the refused call cost nothing
    spend(store)  # outside any request: only the shared budget applies
    assert current_allowance() is None


def test_the_default_cap_comes_from_the_settings(store: LocMemCache) -> None:
    with override_settings(INVENT_MAX_CALLS_PER_REQUEST=2), request_allowance(user_key="user:1") as allowance:
        assert allowance.max_calls == 2
    assert settings.INVENT_MAX_CALLS_PER_REQUEST == 12  # the default


def test_one_user_cannot_spend_the_shared_budget_for_everyone(store: LocMemCache) -> None:
    with request_allowance(user_key="user:greedy", max_calls=0):
        spend(store, shared=10, per_user=3)
        spend(store, shared=10, per_user=3)
        spend(store, shared=10, per_user=3)
        with pytest.raises(InventAllowanceSpent) as refused:
            spend(store, shared=10, per_user=3)
    assert refused.value.message == USER_SHARE_SPENT and refused.value.retry_after == 61
    with request_allowance(user_key="user:other"):
        for _ in range(3):
            spend(store, shared=10, per_user=3)  # others still have theirs
    assert budget_used(store=store) == 6  # the refusal gave its shared unit back
    assert budget_used(store=store, prefix=user_prefix("user:greedy")) == 3


def test_a_shared_refusal_gives_back_the_users_unit_and_the_requests(store: LocMemCache) -> None:
    with request_allowance(user_key="user:1", max_calls=5) as allowance:
        spend(store, shared=1, per_user=5)
        with pytest.raises(InventRateLimited) as refused:
            spend(store, shared=1, per_user=5)
    assert not isinstance(refused.value, InventAllowanceSpent)  # Invent's budget for everyone: shared news
    assert allowance.calls == 1
    assert budget_used(store=store, prefix=user_prefix("user:1")) == 1


def test_the_cap_holds_across_the_requests_pool_tasks(store: LocMemCache) -> None:
    """The timeline fetches streams on a thread pool with copy_context().run: one allowance, many threads."""
    admitted = 0
    lock = threading.Lock()
    start = threading.Barrier(8)

    def task() -> None:
        nonlocal admitted
        start.wait(timeout=10)
        for _ in range(40):
            try:
                spend(store, shared=10_000)
            except InventAllowanceSpent:
                continue
            with lock:
                admitted += 1

    with request_allowance(user_key="user:1", max_calls=100) as allowance:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(task,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert admitted == allowance.calls == 100
    assert budget_used(store=store) == 100


def test_the_middleware_opens_an_allowance_per_request_for_the_user_or_address(
    rf: RequestFactory, staff_user: Any
) -> None:
    seen: list[tuple[str, int]] = []

    def view(request: HttpRequest) -> HttpResponse:
        allowance = current_allowance()
        assert allowance is not None
        seen.append((allowance.user_key, allowance.max_calls))
        return HttpResponse()

    middleware = UpstreamAllowanceMiddleware(view)
    signed_in = rf.get("/", REMOTE_ADDR="203.0.113.9")
    signed_in.user = staff_user
    anonymous = rf.get("/", REMOTE_ADDR="203.0.113.9")
    anonymous.user = AnonymousUser()
    middleware(signed_in)
    middleware(anonymous)
    assert seen == [(f"user:{staff_user.pk}", 12), ("addr:203.0.113.9", 12)]
    assert current_allowance() is None
    chain = settings.MIDDLEWARE
    auth = chain.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert chain[auth + 1] == "timeline_site.core.upstream.UpstreamAllowanceMiddleware"


def test_the_process_client_applies_the_cap_and_the_users_share(store: LocMemCache) -> None:
    with override_settings(INVENT_BUDGET_PER_MINUTE=100, INVENT_BUDGET_PER_USER_PER_MINUTE=2):
        from timeline_site.invent.client import build_client

        hook = build_client().before_request
        assert hook is not None
        with request_allowance(user_key="user:7", max_calls=10):
            hook()
            hook()
            with pytest.raises(InventAllowanceSpent):
                hook()
    assert budget_used(store=budget.counters_store(), prefix=user_prefix("user:7")) == 2


def test_a_requests_own_refusal_is_not_passed_on_to_requests_waiting_on_the_same_page() -> None:
    def capped() -> object:
        raise InventAllowanceSpent(None, REQUEST_CAP_REACHED)

    def busy() -> object:
        raise InventRateLimited(30)

    with pytest.raises(InventAllowanceSpent):
        cached_upstream(key="invent:test:capped", fetch=capped)
    assert cache.get("invent:test:capped:failed") is None  # waiters fetch for themselves
    with pytest.raises(InventRateLimited):
        cached_upstream(key="invent:test:busy", fetch=busy)
    assert cache.get("invent:test:busy:failed") is not None


# --- Old and far dates through the whole page ------------------------------------------------


def test_the_hostile_contacts_page_shows_the_1959_note(staff_client: Any) -> None:
    response = staff_client.get("/orgs/northwind/contacts/ct_hostile/")
    assert response.status_code == 200
    assert "Account opened by post" in response.content.decode()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_far_dates_render_in_every_zone(staff_client: Any, staff_user: Any, zone: str) -> None:
    """0100, 1066, 1959 and 9999 are readable: the page, the older-page link and its cursor must cope."""
    from timeline_site.timeline.models import OrgAccess

    OrgAccess.objects.create(user=staff_user, org_id="org_far")
    dates = ["9999-12-29T00:00:00Z", "2026-11-01T10:00:00Z", "1959-06-01T09:30:00Z", "1066-10-14T09:00:00Z",
             "0100-03-01T00:00:00Z", "0001-01-03T00:00:00Z"]  # fmt: skip
    items = [
        {"id": f"a{n}", "type": "note_created", "created_at": when, "note": {"id": f"n{n}", "content": f"far note {n}"}}
        for n, when in enumerate(dates)
    ]
    base = "https://far-invent.test"
    with (
        override_settings(INVENT_API_URL=base, INVENT_API_KEY="k", DEMO_INVENT_ENABLED=False, INVENT_CACHE_SECONDS=0,
                          INVENT_PARALLEL_FETCH=False, TIMELINE_PAGE_SIZE=3),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):  # fmt: skip

        def activities(request: Any) -> tuple[int, dict[str, str], str]:
            query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}
            page, take = int(query.get("page", 1)), int(query.get("take", 100))
            headers = {"pagination-count": str(len(items))}
            return 200, headers, json.dumps(items[(page - 1) * take : page * take])

        mock.add_callback(responses.GET, re.compile(base + r"/orgs/[^/]+/contacts/[^/]+/activities.*"),
                          callback=activities)  # fmt: skip
        mock.add_callback(responses.GET, re.compile(base + r"/orgs/[^/]+/contacts/[^/?]+(\?.*)?$"),
                          callback=lambda r: (200, {}, json.dumps({"id": "ct_far", "name": "Far"})))  # fmt: skip
        staff_client.cookies["tz"] = zone
        page = staff_client.get("/orgs/org_far/contacts/ct_far/")
        assert page.status_code == 200, page.content[:500]
        html = page.content.decode()
        shown = set(re.findall(r"far note (\d)", html))
        older = re.search(r'<a class="button older" href="([^"]+)"', html)
        assert older, html[-2000:]
        rest = staff_client.get(older.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
        assert rest.status_code == 200, rest.content[:500]
        shown |= set(re.findall(r"far note (\d)", rest.content.decode()))
    assert shown == {str(n) for n in range(len(dates))}
