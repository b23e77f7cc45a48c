"""The only code that speaks HTTP to Invent.

One requests.Session per process, a wall-clock deadline on every attempt
(connect + read seconds, enforced however slowly the bytes arrive), a small
retry budget for idempotent GETs that never stretches a request past a fixed
total, and every outcome turned into either a typed record or a typed error
(timeline_site.invent.errors).

The API key lives only in the session's headers, wrapped so that its repr is
redacted: no frame of an upstream call holds it in a plain local, so Django's
debug page (DJANGO_DEBUG=1) cannot show it.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import InitVar, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.signals import setting_changed
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

from timeline_site.invent.budget import upstream_hook
from timeline_site.invent.errors import (
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
    InventUnavailable,
)
from timeline_site.invent.parse import parse_activity, parse_contact, parse_items
from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES, ActivityPage, Contact, ContactPage, Page

logger = logging.getLogger(__name__)

MAX_TAKE = 100  # Invent's documented cap for `take`
PATH_PART = re.compile(r"[A-Za-z0-9_-]{1,128}")
RETRY_STATUSES = frozenset({502, 503, 504})
# Sleeps between attempts: a request never sleeps more than ~0.8 s in total.
RETRY_DELAYS: tuple[float, ...] = (0.2, 0.6)
# A retry is only worth starting with at least this long left before the request's deadline.
MIN_ATTEMPT_SECONDS = 0.5
MAX_RETRY_AFTER = 3600
# What a page of 100 activities can need. An item's documented fields are small: ids,
# names, and per file at most 2048 + 2048 + 255 + 255 characters of path, URL, file name
# and type (~4.7 KB). Size comes from note text, which has no documented limit: 8 MiB is
# 100 items of ~80 KB, i.e. every item on the page a 20,000-character note in a non-Latin
# script (3 bytes a character in UTF-8: 60 KB) with four attachments at those maxima. A
# larger body fails the page instead of costing a worker many times its size in objects.
MAX_BODY_BYTES = 8 * 1024 * 1024
BODY_CHUNK_BYTES = 64 * 1024
DEMO_BASE_URL = "http://demo-invent.internal"
CONTACT_STATUSES = ("ALL", "SUBSCRIBED", "UNSUBSCRIBED", "BLOCKED", "AI_REPLIES_DISABLED")

# Milliseconds spent waiting on Invent during the current request (for the
# Server-Timing header); the view layer resets it per request.
upstream_ms: ContextVar[float] = ContextVar("invent_upstream_ms", default=0.0)

# Called before every HTTP attempt; raises InventRateLimited when the shared
# upstream budget is spent (see timeline_site.invent.budget).
BeforeRequest = Callable[[], None]


class _Credential(str):
    """The Authorization header value: a str for requests and http.client, but its repr
    (what a debug page or a dump of the headers shows) is redacted."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'Bearer ********'"


# --- Deadlines ---------------------------------------------------------------
#
# requests' read timeout applies to each socket read, so a server that sends one byte
# every half second never trips it (and urllib3's read(amt) loops until amt bytes
# arrive, so checking a clock between chunks is not enough either). Each attempt
# therefore has a watch: at the deadline, the process's one watchdog thread shuts down the socket the
# attempt is using, which ends any read blocked on it at once. The watched connection
# classes register themselves with the attempt's watch (found in a context variable)
# when a request starts on them, and are released when they go back to the pool, so a
# late timer can never cut a connection another request has taken since.

_WATCH_ATTR = "_invent_watch"
_SOCKET_ATTR = "_invent_socket"
_watch_lock = threading.Lock()


def _cut(connection: HTTPConnection) -> None:
    # The socket as connected: http.client drops `sock` from a connection whose response
    # reads until close (the response then owns it), and that read must end too.
    sock = getattr(connection, _SOCKET_ATTR, None) or connection.sock
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, also for a TLS socket: it ends a read blocked in
            # another thread without touching the TLS object that thread is using.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watch:
    """One attempt's wall-clock deadline (see above), kept by the process's watchdog."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.stopped = False
        self._connections: list[HTTPConnection] = []
        _watchdog.keep(self, time.monotonic() + seconds)

    def adopt(self, connection: HTTPConnection) -> None:
        with _watch_lock:
            setattr(connection, _WATCH_ATTR, self)
            if connection not in self._connections:
                self._connections.append(connection)
            if self.expired:
                _cut(connection)

    def expire(self) -> None:
        with _watch_lock:
            if self.stopped:
                return
            self.expired = True
            for connection in self._connections:
                if getattr(connection, _WATCH_ATTR, None) is self:
                    _cut(connection)

    def stop(self) -> None:
        with _watch_lock:
            self.stopped = True
            for connection in self._connections:
                if getattr(connection, _WATCH_ATTR, None) is self:
                    setattr(connection, _WATCH_ATTR, None)
            self._connections.clear()


class _Watchdog:
    """One thread per process that expires the watches whose deadline has passed (a timer thread per
    attempt would start a thread for every upstream call). It sleeps until the earliest deadline; a
    watch that stops first is dropped when it comes to the top of the queue."""

    def __init__(self) -> None:
        self._wake = threading.Condition(threading.Lock())
        self._queue: list[tuple[float, int, _Watch]] = []  # a heap by deadline
        self._order = itertools.count()  # equal deadlines: first come, first expired
        self._thread: threading.Thread | None = None

    def keep(self, watch: _Watch, deadline: float) -> None:
        with self._wake:
            heapq.heappush(self._queue, (deadline, next(self._order), watch))
            # Started on first use, and again in a forked worker (threads do not survive a fork).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="invent-deadlines", daemon=True)
                self._thread.start()
            elif self._queue[0][2] is watch:
                self._wake.notify()  # earlier than what the thread sleeps until

    def _due(self) -> tuple[list[_Watch], float | None]:
        """The watches due now (taken off the queue), and how long until the next one."""
        due: list[_Watch] = []
        now = time.monotonic()
        while self._queue and (self._queue[0][2].stopped or self._queue[0][0] <= now):
            _, _, watch = heapq.heappop(self._queue)
            if not watch.stopped:
                due.append(watch)
        return due, (self._queue[0][0] - now if self._queue else None)

    def _run(self) -> None:
        while True:
            with self._wake:
                due, wait = self._due()
                if not due:
                    self._wake.wait(timeout=wait)
                    continue
            for watch in due:  # outside the queue's lock: expiring takes the connections' lock
                watch.expire()


_watchdog = _Watchdog()
_current_watch: ContextVar[_Watch | None] = ContextVar("invent_watch", default=None)


def _release(connection: object) -> None:
    with _watch_lock:
        if getattr(connection, _WATCH_ATTR, None) is not None:
            setattr(connection, _WATCH_ATTR, None)


def _adopt_into_current_watch(connection: HTTPConnection) -> None:
    if (watch := _current_watch.get()) is not None:
        watch.adopt(connection)


class _Watched(HTTPConnection):
    """A connection the current attempt's deadline watch can cut (HTTP and HTTPS alike)."""

    def connect(self) -> None:
        _adopt_into_current_watch(self)
        super().connect()
        setattr(self, _SOCKET_ATTR, self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _adopt_into_current_watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _release(conn)
        super()._put_conn(conn)


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _release(conn)
        super()._put_conn(conn)


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _WatchedHTTPConnectionPool,
    "https": _WatchedHTTPSConnectionPool,
}


class DeadlineAdapter(HTTPAdapter):
    """requests' HTTP adapter with connections an attempt's watch can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # not SOCKS, whose pools are its own
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


def _seconds(value: float) -> str:
    shown = round(value, 1)
    return f"{shown:g} second" + ("" if shown == 1 else "s")


def is_valid_path_part(value: str) -> bool:
    return bool(PATH_PART.fullmatch(value))


def _path(*parts: str) -> str:
    for part in parts:
        if not is_valid_path_part(part):
            # Never let a malformed id near an upstream URL: it cannot exist there.
            raise InventNotFound("That organisation or contact id is not valid.")
    return "/" + "/".join(quote(part, safe="") for part in parts)


def _retry_after_seconds(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, min(int(when.timestamp() - time.time()), MAX_RETRY_AFTER))


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """Invent's documented contact filters; empty values are not sent."""

    search: str = ""
    name: str = ""
    email: str = ""
    user_id: str = ""  # a channel's user id, e.g. a phone number
    status: str = ""
    segment_id: str = ""

    def as_params(self) -> dict[str, str]:
        params = {key: value for key, value in (
            ("search", self.search), ("name", self.name), ("email", self.email),
            ("user_id", self.user_id), ("segment_id", self.segment_id),
        ) if value}  # fmt: skip
        if self.status:
            if self.status not in CONTACT_STATUSES:
                raise ValueError(f"unknown contact status {self.status!r}")
            params["status"] = self.status
        return params


@dataclass
class InventClient:
    base_url: str
    # Not kept on the client: it goes into the session's headers once, here (see the module doc).
    api_key: InitVar[str]
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    before_request: BeforeRequest | None = field(default=None, repr=False)
    _no_single_contact_get: bool = field(default=False, repr=False)

    def __post_init__(self, api_key: str) -> None:
        self.session.headers["Authorization"] = _Credential(f"Bearer {api_key}")
        self.session.headers["Accept"] = "application/json"
        # Longer prefixes (the demo's in-process adapter, a test's mock) still win.
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, DeadlineAdapter())

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def attempt_seconds(self) -> float:
        """The most one attempt may take, connecting and reading the whole body included."""
        return self.connect_timeout + self.read_timeout

    @property
    def request_seconds(self) -> float:
        """The most one call may take, retries and their pauses included: retries only use
        what the earlier attempts left, so a request is never much longer than one attempt."""
        return self.attempt_seconds + sum(RETRY_DELAYS)

    # --- HTTP -------------------------------------------------------------

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> tuple[Any, Mapping[str, str]]:
        """GET base_url+path; return (decoded JSON, response headers) or raise an InventError."""
        response, watch = self._send_with_retries(path, params or {})
        try:
            status = response.status_code
            if status == 200:
                return self._decode(response, watch, path), response.headers
            if status == 429:
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                raise InventRateLimited(retry_after)
            if status in (401, 403):
                raise InventAuthError()
            if status == 404:
                raise InventNotFound()
            raise InventUnavailable(f"Invent answered with an error (HTTP {status}).", status=status)
        finally:
            watch.stop()
            response.close()

    def _too_slow(self, path: str) -> InventUnavailable:
        logger.warning("Invent GET %s passed its deadline of %.1f s", path, self.attempt_seconds)
        return InventUnavailable(f"Invent did not answer within {_seconds(self.attempt_seconds)}.")

    def _attempt(self, url: str, path: str, params: Mapping[str, str | int], seconds: float) -> tuple[
        requests.Response, _Watch
    ]:  # fmt: skip
        """One GET, watched for `seconds`; the watch keeps running while the caller reads the body."""
        watch = _Watch(seconds)
        token = _current_watch.set(watch)
        try:
            timeout = (min(self.connect_timeout, seconds), min(self.read_timeout, seconds))
            response = self.session.get(url, params=params, timeout=timeout, allow_redirects=False, stream=True)
        except BaseException as exc:
            watch.stop()
            if watch.expired and isinstance(exc, requests.RequestException):
                raise self._too_slow(path) from None
            raise
        finally:
            _current_watch.reset(token)
        return response, watch

    def _send_with_retries(self, path: str, params: Mapping[str, str | int]) -> tuple[requests.Response, _Watch]:
        url = self.base_url + path
        ends = time.monotonic() + self.request_seconds
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            seconds = min(self.attempt_seconds, ends - time.monotonic())
            if self.before_request is not None:
                self.before_request()
            started = time.perf_counter()
            try:
                response, watch = self._attempt(url, path, params, seconds)
            except requests.ConnectionError as exc:  # refused, DNS, reset, connect timeout
                logger.warning("Invent GET %s failed on attempt %d: %s", path, attempt + 1, type(exc).__name__)
                if not self._room_for_retry(ends, delay):
                    raise InventUnavailable("Invent could not be reached (the connection failed).") from None
                time.sleep(delay or 0)
                continue
            except requests.Timeout:
                logger.warning("Invent GET %s timed out after %.1f s", path, self.read_timeout)
                raise InventUnavailable(f"Invent did not answer within {self.read_timeout:g} seconds.") from None
            except requests.RequestException as exc:
                logger.warning("Invent GET %s failed: %s", path, type(exc).__name__)
                raise InventUnavailable() from None
            elapsed_ms = (time.perf_counter() - started) * 1000
            upstream_ms.set(upstream_ms.get() + elapsed_ms)
            logger.info("Invent GET %s -> %d in %.0f ms", path, response.status_code, elapsed_ms)
            if response.status_code in RETRY_STATUSES and self._room_for_retry(ends, delay):
                watch.stop()
                response.close()
                time.sleep(delay or 0)
                continue
            return response, watch
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    @staticmethod
    def _room_for_retry(ends: float, delay: float | None) -> bool:
        """Whether a pause and another attempt still fit before the request's deadline."""
        return delay is not None and ends - time.monotonic() - delay >= MIN_ATTEMPT_SECONDS

    def _decode(self, response: requests.Response, watch: _Watch, path: str) -> Any:
        declared = _header_int(response.headers, "Content-Length")
        if declared is not None and declared > MAX_BODY_BYTES:
            raise InventUnavailable("Invent sent a response too large to show.")
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=BODY_CHUNK_BYTES):
                body.extend(chunk)
                if len(body) > MAX_BODY_BYTES:
                    raise InventUnavailable("Invent sent a response too large to show.")
        except requests.RequestException:
            if watch.expired:
                raise self._too_slow(path) from None
            raise InventUnavailable("Invent's answer was cut off.") from None
        if watch.expired:  # the deadline cut the body short, which can look like its end
            raise self._too_slow(path)
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
            raise InventUnavailable("Invent sent an answer that is not valid JSON.") from None

    # --- Endpoints ----------------------------------------------------------

    def _page[T](self, path: str, params: dict[str, str | int], parse: Callable[[object], T], what: str) -> Page[T]:
        page, take = int(params["page"]), int(params["take"])
        data, headers = self.get_json(path, params)
        if not isinstance(data, list):
            raise InventUnavailable(f"Invent sent {what}s in an unexpected shape.")
        items, skipped = parse_items(data, parse, what=what)
        total = _header_int(headers, "pagination-count")
        served_take = _header_int(headers, "pagination-take") or take
        served_page = _header_int(headers, "pagination-page") or page
        if len(data) < served_take:
            has_more = False  # a short page is the last one, whatever the headers say
        elif total is not None:
            has_more = served_page * served_take < total
        else:
            has_more = True
        return Page(items=items, page=served_page, take=served_take, total=total, has_more=has_more, skipped=skipped)

    def list_activities(
        self, *, org_id: str, contact_id: str, activity_type: str | None = None, page: int = 1, take: int = MAX_TAKE
    ) -> ActivityPage:
        """One upstream page of a contact's activities, newest first.

        Invent documents `type` as a single value; merging several types is
        the timeline service's job (timeline_site.invent.timeline).
        """
        if page < 1 or take < 1:
            raise ValueError("page and take start at 1")
        params: dict[str, str | int] = {"page": page, "take": min(take, MAX_TAKE)}
        if activity_type is not None:
            if activity_type not in KNOWN_ACTIVITY_TYPES:
                raise ValueError(f"unknown activity type {activity_type!r}")
            params["type"] = activity_type
        path = _path("orgs", org_id, "contacts", contact_id, "activities")
        return self._page(path, params, parse_activity, "activity")

    def list_contacts(
        self, *, org_id: str, filters: ContactFilters | None = None, page: int = 1, take: int = 20
    ) -> ContactPage:
        params: dict[str, str | int] = {"page": max(page, 1), "take": min(max(take, 1), MAX_TAKE)}
        params.update((filters or ContactFilters()).as_params())
        return self._page(_path("orgs", org_id, "contacts"), params, parse_contact, "contact")

    def get_contact(self, *, org_id: str, contact_id: str) -> Contact | None:
        """The contact, or None when Invent cannot give it (no single-contact GET, or it is unknown)."""
        if self._no_single_contact_get:
            return None
        path = _path("orgs", org_id, "contacts", contact_id)
        try:
            data, _ = self.get_json(path)
        except InventNotFound:
            return None
        except InventUnavailable as exc:
            if exc.status == 405:
                # The public docs show no GET on this path: remember, and stop asking.
                self._no_single_contact_get = True
                return None
            raise
        try:
            return parse_contact(data)
        except ValueError:
            logger.warning("Invent sent a malformed contact for %s", path)
            return None


_client: InventClient | None = None
_client_lock = threading.Lock()


def build_client() -> InventClient:
    session = requests.Session()
    if settings.DEMO_INVENT_ENABLED:
        from timeline_site.demo_invent.transport import DemoInventAdapter

        session.mount(DEMO_BASE_URL + "/", DemoInventAdapter())
        # INVENT_API_KEY still wins, so a wrong key can be tried against the demo.
        base_url, api_key = DEMO_BASE_URL, settings.INVENT_API_KEY or settings.DEMO_INVENT_API_KEY
    else:
        base_url, api_key = settings.INVENT_API_URL, settings.INVENT_API_KEY
    return InventClient(
        base_url=base_url,
        api_key=api_key,
        connect_timeout=settings.INVENT_CONNECT_TIMEOUT,
        read_timeout=settings.INVENT_READ_TIMEOUT,
        session=session,
        # Every attempt, retries included, is paid for from the shared budget, and within a
        # web request from the request's cap and its user's share (invent.budget).
        before_request=upstream_hook(
            per_minute=settings.INVENT_BUDGET_PER_MINUTE,
            per_user_per_minute=settings.INVENT_BUDGET_PER_USER_PER_MINUTE,
        ),
    )


def get_client() -> InventClient:
    """The process-wide client (one connection pool per process)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = build_client()
    return _client


def _reset_client(*, setting: str, **kwargs: object) -> None:
    global _client
    if setting.startswith(("INVENT_", "DEMO_INVENT_")):
        _client = None


setting_changed.connect(_reset_client)

__all__ = [
    "ContactFilters",
    "InventAuthError",
    "InventClient",
    "InventError",
    "InventNotFound",
    "InventRateLimited",
    "InventUnavailable",
    "get_client",
]
