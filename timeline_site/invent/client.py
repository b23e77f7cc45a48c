"""The only code that speaks HTTP to Invent.

One requests.Session per process, a (connect, read) timeout on every call, a
small retry budget for idempotent GETs, and every outcome turned into either a
typed record or a typed error (timeline_site.invent.errors).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.signals import setting_changed

from timeline_site.invent.budget import budget_hook
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
MAX_RETRY_AFTER = 3600
MAX_BODY_BYTES = 32 * 1024 * 1024
DEMO_BASE_URL = "http://demo-invent.internal"
CONTACT_STATUSES = ("ALL", "SUBSCRIBED", "UNSUBSCRIBED", "BLOCKED", "AI_REPLIES_DISABLED")

# Milliseconds spent waiting on Invent during the current request (for the
# Server-Timing header); the view layer resets it per request.
upstream_ms: ContextVar[float] = ContextVar("invent_upstream_ms", default=0.0)

# Called before every HTTP attempt; raises InventRateLimited when the shared
# upstream budget is spent (see timeline_site.invent.budget).
BeforeRequest = Callable[[], None]


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
    api_key: str = field(repr=False)
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    before_request: BeforeRequest | None = field(default=None, repr=False)
    _no_single_contact_get: bool = field(default=False, repr=False)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    # --- HTTP -------------------------------------------------------------

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> tuple[Any, Mapping[str, str]]:
        """GET base_url+path; return (decoded JSON, response headers) or raise an InventError."""
        response = self._send_with_retries(path, params or {})
        try:
            status = response.status_code
            if status == 200:
                return self._decode(response), response.headers
            if status == 429:
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                raise InventRateLimited(retry_after)
            if status in (401, 403):
                raise InventAuthError()
            if status == 404:
                raise InventNotFound()
            raise InventUnavailable(f"Invent answered with an error (HTTP {status}).", status=status)
        finally:
            response.close()

    def _send_with_retries(self, path: str, params: Mapping[str, str | int]) -> requests.Response:
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            if self.before_request is not None:
                self.before_request()
            started = time.perf_counter()
            try:
                response = self.session.get(
                    url, params=params, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
                )
            except requests.ConnectionError as exc:  # refused, DNS, reset, connect timeout
                logger.warning("Invent GET %s failed on attempt %d: %s", path, attempt + 1, type(exc).__name__)
                if delay is None:
                    raise InventUnavailable("Invent could not be reached (the connection failed).") from None
                time.sleep(delay)
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
            if response.status_code in RETRY_STATUSES and delay is not None:
                response.close()
                time.sleep(delay)
                continue
            return response
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > MAX_BODY_BYTES:
                    raise InventUnavailable("Invent sent a response too large to show.")
        except requests.RequestException:
            raise InventUnavailable("Invent's answer was cut off.") from None
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
        # Every attempt, retries included, is paid for from the shared budget.
        before_request=budget_hook(settings.INVENT_BUDGET_PER_MINUTE),
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
