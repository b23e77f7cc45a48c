"""The paging cursor: where the next dashboard page starts, as one signed, opaque query parameter.

Invent pages by number over a live, newest-first feed, so page N shifts while
someone scrolls: new activities push items onto later pages (duplicates) and
deletions pull them onto earlier ones (gaps). The cursor therefore carries an
anchor, the time of the last activity shown and the ids already shown at that
exact time (Invent's tie order is undocumented), and per upstream stream the
page to continue from and the count seen then. The timeline service drops
anything not strictly older than the anchor.

It travels signed (django.core.signing): a tampered or truncated link is
refused before any upstream call, and its contents are the service's own
business, free to change between releases (an old link is then refused too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.utils.dateparse import parse_datetime

from timeline_site.invent.kinds import KNOWN_ACTIVITY_TYPES
from timeline_site.invent.types import Activity

SALT = "timeline_site.invent.cursor.v2"
SEEN_DIGEST_LENGTH = 12
MAX_SEEN_IDS = 100
MAX_UPSTREAM_PAGE = 100_000
MAX_SHOWN = 10_000_000
MAX_TOKEN_LENGTH = 4096


class CursorError(ValueError):
    """The cursor in a link was tampered with, truncated, or made by another release."""


def seen_digest(activity_id: str) -> str:
    """A short stand-in for an upstream id: ids are opaque and may be long, and a run of
    same-second activities must still fit in one URL."""
    return hashlib.blake2b(activity_id.encode(), digest_size=SEEN_DIGEST_LENGTH // 2).hexdigest()


@dataclass(frozen=True, slots=True)
class Cursor:
    before: datetime  # created_at of the last activity shown
    seen: tuple[str, ...]  # seen_digest of the ids already shown whose created_at == before
    pages: tuple[int, ...]  # per stream: the upstream page to continue from (0: stream exhausted)
    counts: tuple[int | None, ...] = ()  # per stream: pagination-count when the cursor was made
    shown: int = 0  # activities shown so far (for aria-posinset)

    def admits(self, activity: Activity) -> bool:
        """True when `activity` comes after everything already shown."""
        if activity.created_at < self.before:
            return True
        return activity.created_at == self.before and seen_digest(activity.id) not in self.seen


def encode_cursor(cursor: Cursor) -> str:
    payload = {"b": cursor.before.isoformat(), "s": list(cursor.seen), "p": list(cursor.pages),
               "c": list(cursor.counts), "n": cursor.shown}  # fmt: skip
    return signing.dumps(payload, salt=SALT, compress=True)


def decode_cursor(token: str) -> Cursor:
    """The cursor in `token`, or CursorError. Nothing in it is trusted before the signature is."""
    return _unsigned(token, salt=SALT, read=_from_payload)


def _unsigned[C](token: str, *, salt: str, read: Callable[[Any], C]) -> C:
    if len(token) > MAX_TOKEN_LENGTH:
        raise CursorError("too long")
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise CursorError("bad signature") from None
    try:
        return read(payload)
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, but by another release
        raise CursorError("unreadable") from exc


def _read_common(
    payload: Any, *, anchor: str
) -> tuple[datetime, tuple[int, ...], tuple[int | None, ...], tuple[str, ...]]:
    """What both cursors carry: the anchor, a number per stream ("p"), the counts then, the ids seen at the anchor."""
    at = parse_datetime(payload[anchor])
    if at is None or at.tzinfo is None:
        raise ValueError("no anchor")
    per_stream = tuple(int(p) for p in payload["p"])
    counts = tuple(None if c is None else int(c) for c in payload["c"])
    seen = tuple(str(s) for s in payload["s"])
    if not 0 < len(per_stream) <= len(KNOWN_ACTIVITY_TYPES) or (counts and len(counts) != len(per_stream)):
        raise ValueError("streams")
    if len(seen) > MAX_SEEN_IDS:
        raise ValueError("seen")
    return at, per_stream, counts, seen


def _from_payload(payload: Any) -> Cursor:
    before, pages, counts, seen = _read_common(payload, anchor="b")
    shown = int(payload["n"])
    if any(not 0 <= p <= MAX_UPSTREAM_PAGE for p in pages) or not 0 <= shown <= MAX_SHOWN:
        raise ValueError("range")
    return Cursor(before=before, seen=seen, pages=pages, counts=counts, shown=shown)


# --- The other direction: newer activities, above what is shown ----------------------------

NEWER_SALT = "timeline_site.invent.cursor.newer.v1"


@dataclass(frozen=True, slots=True)
class NewerCursor:
    """Where the next page *above* starts, when the top of what is shown is not the newest
    activity (a permalink, a date, or new activity since the page was read).

    The anchor is the top activity shown; per stream, how many of its activities were newer
    than it and the count seen then, so that growth at the top (which pushes the anchor down
    the feed) can be allowed for. Signed like `Cursor`, carried as its own parameter (`newer`).
    """

    after: datetime  # created_at of the top activity shown
    seen: tuple[str, ...]  # seen_digest of the ids already shown whose created_at == after
    positions: tuple[int, ...]  # per stream: its activities newer than the anchor, when last read
    counts: tuple[int | None, ...]  # per stream: pagination-count then
    top: int = 1  # aria-posinset of the top card shown

    def admits(self, activity: Activity) -> bool:
        """True when `activity` is newer than everything already shown."""
        if activity.created_at > self.after:
            return True
        return activity.created_at == self.after and seen_digest(activity.id) not in self.seen


def encode_newer_cursor(cursor: NewerCursor) -> str:
    payload = {"a": cursor.after.isoformat(), "s": list(cursor.seen), "p": list(cursor.positions),
               "c": list(cursor.counts), "t": cursor.top}  # fmt: skip
    return signing.dumps(payload, salt=NEWER_SALT, compress=True)


def decode_newer_cursor(token: str) -> NewerCursor:
    """The newer cursor in `token`, or CursorError, checked as strictly as `decode_cursor`."""
    return _unsigned(token, salt=NEWER_SALT, read=_newer_from_payload)


def _newer_from_payload(payload: Any) -> NewerCursor:
    after, positions, counts, seen = _read_common(payload, anchor="a")
    top = int(payload["t"])
    if len(counts) != len(positions):
        raise ValueError("streams")
    if any(not 0 <= n <= MAX_SHOWN for n in (*positions, *(c for c in counts if c is not None))):
        raise ValueError("range")
    if not 1 <= top <= MAX_SHOWN:
        raise ValueError("top")
    return NewerCursor(after=after, seen=seen, positions=positions, counts=counts, top=top)
