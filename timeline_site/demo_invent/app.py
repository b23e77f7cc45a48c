"""The demo Invent HTTP API as a plain WSGI application.

It speaks Invent's documented contract: Bearer auth, `/orgs/{org}/...`
routes with the `c` shorthand, bare JSON arrays with `pagination-*` headers, and
JSON error bodies. It is served in-process (see `transport.py`) or over real HTTP
(`serve_demo_invent`, `wsgi.py`), so the dashboard's requests code is the same
either way.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.db import close_old_connections
from django.db.models import QuerySet

from timeline_site.demo_invent.assets import CACHE_CONTROL, get_asset
from timeline_site.demo_invent.models import Behaviour, DemoActivity, DemoContact, DemoOrg

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Headers = list[tuple[str, str]]
Query = dict[str, list[str]]

ACTIVITY_TYPES = frozenset(
    {
        "note_created",
        "file_uploaded",
        "segment_added",
        "segment_removed",
        "contact_blocked",
        "contact_unblocked",
        "contact_unsubscribed",
        "contact_resubscribed",
    }
)
CONTACT_STATUSES = frozenset({"ALL", "SUBSCRIBED", "UNSUBSCRIBED", "BLOCKED", "AI_REPLIES_DISABLED"})
MAX_TAKE = 100
SLOW_SECONDS = 3.0
RATE_LIMIT_RETRY_AFTER = 30
# Set in the environ by the in-process transport: asset URLs then become
# root-relative paths the dashboard serves itself.
PUBLIC_BASE_KEY = "demo_invent.public_base"
URL_FIELDS = frozenset({"avatar", "avatar_url", "file_url"})

_POSITIVE_INT = re.compile(r"[0-9]{1,18}")
_latency_override_ms: int | None = None
_flaky_calls: dict[tuple[str, str], int] = {}
_flaky_lock = threading.Lock()


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: Headers = field(default_factory=list)


def set_latency_ms(value: int | None) -> None:
    """Override settings.DEMO_INVENT_LATENCY_MS for this process (None restores it)."""
    global _latency_override_ms
    _latency_override_ms = value


def reset_behaviour_state() -> None:
    """Forget the per-contact call counters that drive the "flaky" behaviour."""
    with _flaky_lock:
        _flaky_calls.clear()


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, fractional seconds only when there are some."""
    value = value.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    try:
        reply = _dispatch(environ)
    except ApiError as error:
        reply = _error_reply(error.status, error.message, error.headers)
    headers = [
        ("Content-Type", reply.content_type),
        ("Content-Length", str(len(reply.body))),
        ("X-Content-Type-Options", "nosniff"),
        *reply.headers,
    ]
    status = HTTPStatus(reply.status)
    start_response(f"{status.value} {status.phrase}", headers)
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [reply.body]


def with_db_cleanup(app: WSGIApp) -> WSGIApp:
    """Wrap `app` for standalone servers, which lack Django's request signals.

    Without this each server thread would keep its database connection open
    forever (and keep a broken one after a database restart).
    """

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        close_old_connections()
        try:
            return app(environ, start_response)
        finally:
            close_old_connections()

    return wrapped


# --- Routing -------------------------------------------------------------


def _dispatch(environ: dict[str, Any]) -> Reply:
    method = environ.get("REQUEST_METHOD", "GET")
    raw_path = environ.get("PATH_INFO", "") or "/"
    # WSGI hands the path over as latin-1-decoded bytes.
    path = raw_path.encode("latin-1").decode("utf-8", errors="replace")
    parts = path.rstrip("/").split("/")[1:] if path != "/" else []
    handler = _route(parts)
    if handler is None:
        raise ApiError(404, f"Cannot {method} {path}")
    if method not in ("GET", "HEAD"):
        raise ApiError(405, f"Cannot {method} {path}", [("Allow", "GET, HEAD")])
    return handler(environ)


def _route(parts: list[str]) -> Callable[[dict[str, Any]], Reply] | None:
    if len(parts) == 2 and parts[0] == "assets":
        return lambda environ: _asset(parts[1])
    if len(parts) < 3 or parts[0] != "orgs" or parts[2] != "contacts" or "" in parts:
        return None
    org_id = parts[1]
    if len(parts) == 3:
        return lambda environ: _api(environ, org_id, None, _list_contacts)
    if len(parts) > 5:
        return None
    contact_id = parts[3]
    view = _CONTACT_VIEWS.get(parts[4] if len(parts) == 5 else "")
    if view is None:
        return None
    return lambda environ: _api(environ, org_id, contact_id, view)


def _asset(name: str) -> Reply:
    asset = get_asset(name)
    if asset is None:
        raise ApiError(404, f"Asset {name!r} not found")
    return Reply(
        200,
        asset.body,
        content_type=asset.content_type,
        headers=[("Cache-Control", CACHE_CONTROL), ("Content-Security-Policy", "default-src 'none'")],
    )


def _api(environ: dict[str, Any], org_id: str, contact_id: str | None, view: Callable[..., Reply]) -> Reply:
    _simulate_latency()
    _authenticate(environ)
    org = _resolve_org(org_id)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if contact_id is None:
        reply = view(environ, org, query)
    else:
        contact = DemoContact.objects.filter(org=org, contact_id=contact_id).first()
        if contact is None:
            raise ApiError(404, f"Contact {contact_id} not found")
        _apply_behaviour(contact)
        reply = view(environ, contact, query)
    return reply


def _simulate_latency() -> None:
    latency = _latency_override_ms if _latency_override_ms is not None else settings.DEMO_INVENT_LATENCY_MS
    if latency > 0:
        time.sleep(latency / 1000)


def _authenticate(environ: dict[str, Any]) -> None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    expected = settings.DEMO_INVENT_API_KEY
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(401, "Invalid or missing API key", [("WWW-Authenticate", "Bearer")])


def _resolve_org(org_id: str) -> DemoOrg:
    # The demo has one API key, created in the (single) parent org.
    key_org = DemoOrg.objects.filter(parent=None).order_by("id").first()
    if key_org is None:
        raise ApiError(404, "Organization not found")
    if org_id in ("c", key_org.id):
        return key_org
    org = DemoOrg.objects.filter(id=org_id, parent=key_org).first()
    if org is None:
        raise ApiError(404, f"Organization {org_id} not found")
    return org


def _apply_behaviour(contact: DemoContact) -> None:
    behaviour = contact.behaviour
    if behaviour == Behaviour.SLOW:
        time.sleep(SLOW_SECONDS)
    elif behaviour == Behaviour.RATE_LIMITED:
        raise ApiError(429, "Too Many Requests", [("Retry-After", str(RATE_LIMIT_RETRY_AFTER))])
    elif behaviour == Behaviour.DOWN:
        raise ApiError(503, "Service temporarily unavailable")
    elif behaviour == Behaviour.FLAKY:
        key = (contact.org_id, contact.contact_id)
        with _flaky_lock:
            _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
            calls = _flaky_calls[key]
        # Odd calls fail, so a client's first attempt always exercises its retry path.
        if calls % 2 == 1:
            raise ApiError(503, "Service temporarily unavailable")


# --- Views ---------------------------------------------------------------


def _get_contact(environ: dict[str, Any], contact: DemoContact, query: Query) -> Reply:
    return _json_reply(environ, _contact_object(contact))


def _list_activities(environ: dict[str, Any], contact: DemoContact, query: Query) -> Reply:
    page, take = _paging(query)
    activities: QuerySet[DemoActivity] = contact.activities.all()
    activity_type = _single(query, "type")
    if activity_type is not None:
        if activity_type not in ACTIVITY_TYPES:
            raise ApiError(400, f"type must be one of: {', '.join(sorted(ACTIVITY_TYPES))}")
        activities = activities.filter(type=activity_type)
    total = activities.count()
    rows = _page_slice(activities.order_by("-created_at", "-activity_id"), total, page, take)
    return _list_reply(environ, [_activity_object(row) for row in rows], total, page, take)


def _list_notes(environ: dict[str, Any], contact: DemoContact, query: Query) -> Reply:
    page, take = _paging(query)
    notes = (
        contact.activities.filter(type="note_created", data__has_key="note")
        .exclude(data__note=None)
        .order_by("-created_at", "-activity_id")
    )
    total = notes.count()
    items = [row.data["note"] for row in _page_slice(notes, total, page, take)]
    return _list_reply(environ, items, total, page, take)


def _list_segments(environ: dict[str, Any], contact: DemoContact, query: Query) -> Reply:
    page, take = _paging(query)
    segments = list(contact.data.get("segments") or [])
    start = (page - 1) * take
    return _list_reply(environ, segments[start : start + take], len(segments), page, take)


def _list_contacts(environ: dict[str, Any], org: DemoOrg, query: Query) -> Reply:
    page, take = _paging(query)
    matches = _contact_filter(query)
    contacts = [
        _contact_object(contact)
        for contact in DemoContact.objects.filter(org=org).order_by("contact_id")
        if matches(contact.data)
    ]
    contacts.sort(key=lambda item: item["id"], reverse=True)
    contacts.sort(key=lambda item: str(item.get("created_at") or ""), reverse=True)
    start = (page - 1) * take
    return _list_reply(environ, contacts[start : start + take], len(contacts), page, take)


def _contact_filter(query: Query) -> Callable[[dict[str, Any]], bool]:
    """Build a predicate from the list-contacts filters (all must match)."""
    checks: list[Callable[[dict[str, Any], str], bool]] = []
    values: list[str] = []

    def add(name: str, check: Callable[[dict[str, Any], str], bool]) -> None:
        value = _single(query, name)
        if value:
            checks.append(check)
            values.append(value.casefold())

    add("search", lambda data, v: _contains(data, ("name", "email", "phone", "user_id"), v))
    add("name", lambda data, v: _contains(data, ("name",), v))
    add("email", lambda data, v: _contains(data, ("email",), v))
    add("user_id", lambda data, v: _contains(data, ("user_id",), v))
    add("username", lambda data, v: _contains(data, ("username",), v))
    add("segment_id", lambda data, v: any(str(s.get("id", "")).casefold() == v for s in data.get("segments") or []))

    predicates: list[Callable[[dict[str, Any]], bool]] = []
    unsubscribed = _boolean(query, "unsubscribed")
    if unsubscribed is not None:
        predicates.append(lambda data: bool(data.get("unsubscribed")) is unsubscribed)
    if _boolean(query, "exclude_admins"):
        predicates.append(lambda data: not data.get("is_admin"))
    status = _single(query, "status")
    if status is not None:
        if status not in CONTACT_STATUSES:
            raise ApiError(400, f"status must be one of: {', '.join(sorted(CONTACT_STATUSES))}")
        predicates.append(_status_predicate(status))

    def matches(data: dict[str, Any]) -> bool:
        return all(check(data, value) for check, value in zip(checks, values, strict=True)) and all(
            predicate(data) for predicate in predicates
        )

    return matches


def _status_predicate(status: str) -> Callable[[dict[str, Any]], bool]:
    if status == "SUBSCRIBED":
        return lambda data: not data.get("unsubscribed")
    if status == "UNSUBSCRIBED":
        return lambda data: bool(data.get("unsubscribed"))
    if status == "BLOCKED":
        return lambda data: bool(data.get("blocked"))
    if status == "AI_REPLIES_DISABLED":
        # The documented contact object has no AI-reply flag, so no demo contact matches.
        return lambda data: False
    return lambda data: True


def _contains(data: dict[str, Any], keys: tuple[str, ...], needle: str) -> bool:
    """Case-insensitive substring match on the contact name and/or any channel's `keys`."""
    texts = [data.get("name")] if "name" in keys else []
    for channel in data.get("channels") or []:
        texts.extend(channel.get(key) for key in keys)
    return any(needle in str(text).casefold() for text in texts if text)


_CONTACT_VIEWS: dict[str, Callable[[dict[str, Any], DemoContact, Query], Reply]] = {
    "": _get_contact,
    "activities": _list_activities,
    "notes": _list_notes,
    "segments": _list_segments,
}


# --- Parameters ----------------------------------------------------------


def _single(query: Query, name: str) -> str | None:
    values = query.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise ApiError(400, f"{name} must be given once")
    return values[0]


def _positive_int(query: Query, name: str, default: int) -> int:
    value = _single(query, name)
    if value is None:
        return default
    if not _POSITIVE_INT.fullmatch(value) or int(value) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(value)


def _paging(query: Query) -> tuple[int, int]:
    return _positive_int(query, "page", 1), min(_positive_int(query, "take", MAX_TAKE), MAX_TAKE)


def _boolean(query: Query, name: str) -> bool | None:
    value = _single(query, name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return value.lower() == "true"


def _page_slice(rows: QuerySet[DemoActivity], total: int, page: int, take: int) -> list[DemoActivity]:
    start = (page - 1) * take
    # Never hand the database an offset past the end (huge page numbers overflow SQLite).
    return [] if start >= total else list(rows[start : start + take])


# --- Serialisation -------------------------------------------------------


def _activity_object(row: DemoActivity) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row.activity_id, "type": row.type, "created_at": format_datetime(row.created_at)}
    item.update(row.data)
    for key in item.pop("_omit", []):
        item.pop(key, None)
    return item


def _contact_object(contact: DemoContact) -> dict[str, Any]:
    return {"id": contact.contact_id, **contact.data}


def _public_base(environ: dict[str, Any]) -> str:
    if PUBLIC_BASE_KEY in environ:
        return str(environ[PUBLIC_BASE_KEY]).rstrip("/")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _absolutise(value: Any, base: str) -> Any:
    """Prefix stored `/assets/...` URLs with the public base; leave anything else verbatim."""
    if isinstance(value, list):
        return [_absolutise(item, base) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in URL_FIELDS and isinstance(item, str) and item.startswith("/assets/"):
            result[key] = base + item
        else:
            result[key] = _absolutise(item, base)
    return result


def _json_reply(environ: dict[str, Any], payload: Any, headers: Headers | None = None) -> Reply:
    body = json.dumps(_absolutise(payload, _public_base(environ)), ensure_ascii=False, separators=(",", ":"))
    return Reply(200, body.encode(), headers=headers or [])


def _list_reply(environ: dict[str, Any], items: list[Any], total: int, page: int, take: int) -> Reply:
    headers = [("pagination-count", str(total)), ("pagination-page", str(page)), ("pagination-take", str(take))]
    return _json_reply(environ, items, headers)


def _error_reply(status: int, message: str, headers: Headers) -> Reply:
    body = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    return Reply(status, json.dumps(body).encode(), headers=headers)
