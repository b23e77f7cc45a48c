"""Invent JSON -> typed records, tolerant of whatever the upstream sends.

Rules: wrong-typed or missing optional fields become None/empty; extra fields
are ignored; only an item without a usable `id`, `type` (activities) or
`created_at` (activities) is rejected, with MalformedItem, so that the caller
can log and skip it instead of breaking the page.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.dateparse import parse_datetime

from timeline_site.demo_invent.public import ASSETS_PREFIX as DEMO_ASSETS_PREFIX
from timeline_site.invent.types import (
    FALLBACK_SEGMENT_COLOR,
    SEGMENT_COLORS,
    Activity,
    Actor,
    Assistant,
    Board,
    Broadcast,
    Channel,
    Contact,
    File,
    Note,
    Segment,
)

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048
# Invent's schema allows any date-time, so every one is shown, 1959 and 1066 included.
# Only the first and last days Python can hold are refused: shown in a zone a day
# away from UTC (or moved a day for a heading), they would leave datetime's range.
_EDGE = timedelta(days=2)
EARLIEST = datetime.min.replace(tzinfo=UTC) + _EDGE
LATEST = datetime.max.replace(tzinfo=UTC) - _EDGE
# What a demo asset may be called (the demo's URL pattern is assets/<name>).
_DEMO_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Bidi embedding/override/isolate controls let upstream text reorder what is
# shown around it ("invoice\u202egnp.exe" reads as "invoiceexe.png"): dropped.
# Names and file names also lose zero-width characters used for lookalikes.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_INVISIBLE = dict.fromkeys([0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD], None) | _BIDI_CONTROLS
MAX_ID_LENGTH = 256
_SURROGATE = re.compile("[\ud800-\udfff]")
# Control characters other than tab and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# In a URL: control characters, spaces, and what could end an HTML attribute or start a tag.
_URL_UNSAFE = re.compile(r'[\x00-\x20\\"<>`]')


class MalformedItem(ValueError):
    pass


def _obj(value: object) -> Mapping[str, object] | None:
    return value if isinstance(value, dict) else None  # decoded JSON: objects are dicts


def _well_formed(value: str) -> str:
    """JSON may carry lone UTF-16 surrogates ("\\ud800"), which can be neither sent as UTF-8 nor
    stored: each becomes U+FFFD. (Only non-ASCII strings can hold one.)"""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def _clean(value: str) -> str:
    """Text as it may be shown and stored: well-formed, without bidi controls, and without
    control characters other than tab and line breaks (PostgreSQL refuses NUL, HTML calls them errors).
    Most text is ASCII, which holds none of the non-ASCII ones: checking that first (a flag lookup in
    CPython) skips the rest for most fields."""
    if not value.isascii():
        value = _well_formed(value).translate(_BIDI_CONTROLS)
    return _CONTROL.sub("", value) if _CONTROL.search(value) else value


def text(value: object) -> str:
    """A string field; numbers are accepted (ids are sometimes numeric), anything else is empty."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def label(value: object) -> str:
    """A name or file name: text without invisible characters, trimmed."""
    value = text(value)
    return (value if value.isascii() else value.translate(_INVISIBLE)).strip()


def _id(value: object) -> str:
    ident = text(value).strip()
    return ident if len(ident) <= MAX_ID_LENGTH else ""


def _bool(value: object) -> bool:
    return value is True


def _count(value: object) -> int | None:
    """A non-negative whole number (Invent types these as `number`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def timestamp(value: object) -> datetime | None:
    """A date-time Invent sent, or None when it is not one or Python could not place it in every zone."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # the docs show UTC with a Z; a bare time is read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_utc = parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        return None
    return parsed if EARLIEST <= in_utc <= LATEST else None


def _demo_asset(path: str) -> str | None:
    """A root-relative URL is accepted only from the embedded demo, and only for one of its
    assets: from a real Invent, `/orgs/...` as an avatar would make every viewer's browser
    fetch a dashboard page, with their cookies."""
    if not settings.DEMO_INVENT_ENABLED or not path.startswith(DEMO_ASSETS_PREFIX):
        return None
    return path if _DEMO_ASSET_NAME.fullmatch(path.removeprefix(DEMO_ASSETS_PREFIX)) else None


def safe_url(value: object) -> str | None:
    """An http(s) URL, or one of the embedded demo's assets; anything else (javascript:, data:,
    //host, another path on this site) is None."""
    if not isinstance(value, str):
        return None
    url = _well_formed(value).strip()
    if not url or len(url) > MAX_URL_LENGTH or _URL_UNSAFE.search(url):
        return None
    if url.startswith("/"):
        return _demo_asset(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in {"http", "https"} and parts.hostname:
        return url
    return None


MAX_METADATA_DEPTH = 5


def _metadata(value: object) -> dict[str, object]:
    """Free-form metadata, kept as JSON values with well-formed text and at most
    MAX_METADATA_DEPTH levels (deeper values become "…"), so any display of it is bounded."""

    def clean(node: object, depth: int) -> object:
        if isinstance(node, str):
            return _clean(node)
        if isinstance(node, dict | list) and depth >= MAX_METADATA_DEPTH:
            return "…"
        if isinstance(node, dict):
            return {str(clean(key, depth)): clean(item, depth + 1) for key, item in node.items()}
        if isinstance(node, list):
            return [clean(item, depth + 1) for item in node]
        return node

    cleaned = clean(value, 0) if isinstance(value, dict) else {}
    return cleaned if isinstance(cleaned, dict) else {}


def _list[T](value: object, parse: Callable[[Mapping[str, object]], T | None]) -> tuple[T, ...]:
    if not isinstance(value, list):
        return ()
    parsed = (parse(item) for item in value if isinstance(item, dict))
    return tuple(item for item in parsed if item is not None)


def _identity(data: Mapping[str, object] | None, id_key: str = "id", name_key: str = "name") -> tuple[str, str] | None:
    """(id, name) of a nested object; None when it has neither, i.e. nothing worth showing."""
    if data is None:
        return None
    ident, name = _id(data.get(id_key)), label(data.get(name_key))
    return (ident, name) if ident or name else None


def parse_actor(data: Mapping[str, object] | None) -> Actor | None:
    if data is None or (identity := _identity(data)) is None:
        return None
    ident, name = identity
    return Actor(
        id=ident,
        name=name or text(data.get("email")) or "Unknown user",
        email=text(data.get("email")),
        avatar=safe_url(data.get("avatar")),
        seen_at=timestamp(data.get("seen_at")),
    )


def parse_assistant(data: Mapping[str, object] | None) -> Assistant | None:
    if data is None or (identity := _identity(data)) is None:
        return None
    ident, name = identity
    return Assistant(id=ident, name=name or "AI assistant", avatar_url=safe_url(data.get("avatar_url")))


def _parse_board(data: Mapping[str, object]) -> Board | None:
    if (identity := _identity(data, "board_id", "board_name")) is None:
        return None
    ident, name = identity
    return Board(board_id=ident, board_name=name or ident, column_id=_id(data.get("column_id")))


def parse_segment(data: Mapping[str, object] | None) -> Segment | None:
    if data is None or (identity := _identity(data)) is None:
        return None
    ident, name = identity
    color = text(data.get("color")).strip().lower()
    return Segment(
        id=ident,
        name=name or ident,
        color=color if color in SEGMENT_COLORS else FALLBACK_SEGMENT_COLOR,
        contacts_count=_count(data.get("contacts_count")),
        boards=_list(data.get("boards"), _parse_board),
        created_at=timestamp(data.get("created_at")),
        updated_at=timestamp(data.get("updated_at")),
    )


def parse_broadcast(data: Mapping[str, object] | None) -> Broadcast | None:
    if (identity := _identity(data)) is None:
        return None
    ident, name = identity
    return Broadcast(id=ident, name=name or ident)


def parse_file(data: Mapping[str, object] | None) -> File | None:
    if data is None:
        return None
    ident = _id(data.get("id"))
    path = text(data.get("file_path"))
    filename = label(data.get("file_filename")) or label(path.rsplit("/", 1)[-1])
    if not ident and not filename:
        return None
    return File(
        id=ident,
        filename=filename or "unnamed file",
        size=_count(data.get("file_size")),
        mimetype=text(data.get("file_mimetype")).strip().lower(),
        url=safe_url(data.get("file_url")),
        path=path,
        created_at=timestamp(data.get("created_at")),
    )


def parse_note(data: Mapping[str, object] | None) -> Note | None:
    if data is None:
        return None
    return Note(
        id=_id(data.get("id")),
        contact_id=_id(data.get("contact_id")),
        content=text(data.get("content")),
        attachments=_list(data.get("attachments"), parse_file),
        created_at=timestamp(data.get("created_at")),
        updated_at=timestamp(data.get("updated_at")),
        user=parse_actor(_obj(data.get("user"))),
    )


def parse_activity(data: object) -> Activity:
    item = _obj(data)
    if item is None:
        raise MalformedItem("not an object")
    ident = _id(item.get("id"))
    if not ident:
        raise MalformedItem("no usable id")
    kind = text(item.get("type")).strip()
    if not kind:
        raise MalformedItem("no usable type")
    created_at = timestamp(item.get("created_at"))
    if created_at is None:
        raise MalformedItem("no readable created_at")
    metadata = _metadata(item.get("metadata"))
    return Activity(
        id=ident,
        type=kind[:64],
        created_at=created_at,
        actor=parse_actor(_obj(item.get("actor"))),
        assistant=parse_assistant(_obj(item.get("assistant"))),
        segment=parse_segment(_obj(item.get("segment"))),
        broadcast=parse_broadcast(_obj(item.get("broadcast"))),
        note=parse_note(_obj(item.get("note"))),
        file=parse_file(_obj(item.get("file"))),
        metadata=metadata,
    )


def _parse_channel(data: Mapping[str, object]) -> Channel | None:
    ident = _id(data.get("id"))
    kind = text(data.get("type")).strip()
    if not ident and not kind:
        return None
    return Channel(
        id=ident,
        type=kind or "unknown",
        user_id=text(data.get("user_id")),
        name=text(data.get("name")),
        username=text(data.get("username")),
        email=text(data.get("email")),
        phone=text(data.get("phone")),
        avatar=safe_url(data.get("avatar")),
    )


def parse_contact(data: object) -> Contact:
    item = _obj(data)
    if item is None:
        raise MalformedItem("not an object")
    ident = _id(item.get("id"))
    if not ident:
        raise MalformedItem("no usable id")
    return Contact(
        id=ident,
        name=label(item.get("name")),
        blocked=_bool(item.get("blocked")),
        unsubscribed=_bool(item.get("unsubscribed")),
        is_admin=_bool(item.get("is_admin")),
        channels=_list(item.get("channels"), _parse_channel),
        segments=_list(item.get("segments"), parse_segment),
        created_at=timestamp(item.get("created_at")),
        updated_at=timestamp(item.get("updated_at")),
        blocked_at=timestamp(item.get("blocked_at")),
        unsubscribed_at=timestamp(item.get("unsubscribed_at")),
        unsubscribe_reason=text(item.get("unsubscribe_reason")),
        unsubscribe_feedback=text(item.get("unsubscribe_feedback")),
    )


def parse_items[T](items: list[object], parse: Callable[[object], T], *, what: str) -> tuple[tuple[T, ...], int]:
    """Parse a list, skipping unreadable items. Returns the records and how many were skipped.

    One log line per page, not one per item: a page of 100 broken items is one event, and
    says how many and why ("2 no readable created_at, 1 not an object")."""
    records: list[T] = []
    reasons: Counter[str] = Counter()
    for item in items:
        try:
            records.append(parse(item))
        except MalformedItem as exc:
            reasons[str(exc)] += 1
    skipped = reasons.total()
    if skipped:
        why = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
        logger.warning("Skipped %d unreadable %s item(s) of %d on one page: %s", skipped, what, len(items), why)
    return tuple(records), skipped
