"""Invent JSON -> typed records, tolerant of whatever the upstream sends.

Rules: wrong-typed or missing optional fields become None/empty; extra fields
are ignored; only an item without a usable `id`, `type` (activities) or
`created_at` (activities) is rejected, with MalformedItem, so that the caller
can log and skip it instead of breaking the page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime

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
MIN_YEAR, MAX_YEAR = 1970, 2999
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
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None  # year 1 or 9999 cannot be shown in every time zone (and is not a real event)
    return parsed


def safe_url(value: object) -> str | None:
    """An http(s) URL or a same-origin absolute path; anything else (javascript:, data:, //host) is None."""
    if not isinstance(value, str):
        return None
    url = _well_formed(value).strip()
    if not url or len(url) > MAX_URL_LENGTH or _URL_UNSAFE.search(url):
        return None
    if url.startswith("/"):
        return None if url.startswith("//") else url
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
        raise MalformedItem("activity is not an object")
    ident = _id(item.get("id"))
    kind = text(item.get("type")).strip()
    created_at = timestamp(item.get("created_at"))
    if not ident or not kind or created_at is None:
        raise MalformedItem("activity lacks a usable id, type or created_at")
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
        raise MalformedItem("contact is not an object")
    ident = _id(item.get("id"))
    if not ident:
        raise MalformedItem("contact lacks a usable id")
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
    """Parse a list, skipping (and logging) malformed items. Returns the records and how many were skipped."""
    records: list[T] = []
    skipped = 0
    for index, item in enumerate(items):
        try:
            records.append(parse(item))
        except MalformedItem as exc:
            skipped += 1
            logger.warning("Skipped malformed %s at index %d: %s", what, index, exc)
    return tuple(records), skipped
