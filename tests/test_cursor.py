"""The paging cursor: one signed, opaque query parameter (timeline_site/invent/cursor.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import signing

from timeline_site.invent.cursor import (
    MAX_SEEN_IDS,
    MAX_TOKEN_LENGTH,
    SALT,
    SEEN_DIGEST_LENGTH,
    Cursor,
    CursorError,
    decode_cursor,
    encode_cursor,
    seen_digest,
)
from timeline_site.invent.types import Activity

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
CURSOR = Cursor(before=T, seen=(seen_digest("a1"), seen_digest("a2")), pages=(3, 0, 7), counts=(120, None, 9),
                shown=150)  # fmt: skip
GOOD = {"b": T.isoformat(), "s": [], "p": [2], "c": [107], "n": 50}


def token(payload: Any, salt: str = SALT) -> str:
    return signing.dumps(payload, salt=salt, compress=True)


def test_a_cursor_survives_the_round_trip() -> None:
    assert decode_cursor(encode_cursor(CURSOR)) == CURSOR
    in_paris = Cursor(before=T.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")), seen=(), pages=(1,))
    assert decode_cursor(encode_cursor(in_paris)).before == T
    assert decode_cursor(token(GOOD)) == Cursor(before=T, seen=(), pages=(2,), counts=(107,), shown=50)


def test_the_token_is_url_safe_and_opaque() -> None:
    encoded = encode_cursor(CURSOR)
    assert all(c.isalnum() or c in "-_:." for c in encoded)
    assert "2026" not in encoded and "150" not in encoded  # compressed and encoded: nothing to hand-edit


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        encode_cursor(CURSOR)[:-1],  # truncated
        encode_cursor(CURSOR)[:-10],
        encode_cursor(CURSOR)[: len(encode_cursor(CURSOR)) // 2],
        flip(encode_cursor(CURSOR), 3),  # the payload tampered with
        flip(encode_cursor(CURSOR), len(encode_cursor(CURSOR)) - 2),  # the signature tampered with
        encode_cursor(CURSOR) + "x",
        token(GOOD, salt="some.other.purpose"),  # ours, but not signed as a cursor
        "x" * (MAX_TOKEN_LENGTH + 1),
    ],
)
def test_a_tampered_or_truncated_token_is_refused(bad: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(bad)


@pytest.mark.parametrize(
    "payload",
    [
        {**GOOD, "b": "yesterday"},
        {**GOOD, "b": "2026-11-01T10:00:00"},  # no zone
        {**GOOD, "b": 12},
        {**GOOD, "p": ["2,x"]},
        {**GOOD, "p": [-1]},
        {**GOOD, "p": [100_001]},
        {**GOOD, "p": []},
        {**GOOD, "p": [1] * 9, "c": []},  # more streams than there are types
        {**GOOD, "c": [1, 2]},  # counts for other streams
        {**GOOD, "s": ["x"] * (MAX_SEEN_IDS + 1)},
        {**GOOD, "n": -1},
        {**GOOD, "n": 10_000_001},
        {k: v for k, v in GOOD.items() if k != "b"},
        ["not", "a", "dict"],
        None,
    ],
)
def test_a_signed_cursor_from_another_release_is_refused(payload: Any) -> None:
    with pytest.raises(CursorError):
        decode_cursor(token(payload))


def test_admits_what_comes_strictly_after_what_was_shown() -> None:
    cursor = Cursor(before=T, seen=(seen_digest("shown"),), pages=(1,))
    assert cursor.admits(Activity(id="older", type="note_created", created_at=T - timedelta(seconds=1)))
    assert cursor.admits(Activity(id="same-second", type="note_created", created_at=T))
    assert not cursor.admits(Activity(id="shown", type="note_created", created_at=T))
    assert not cursor.admits(Activity(id="newer", type="note_created", created_at=T + timedelta(seconds=1)))


def test_seen_ids_are_short_stand_ins() -> None:
    digest = seen_digest("activity-" + "x" * 500)
    assert len(digest) == SEEN_DIGEST_LENGTH and digest == seen_digest("activity-" + "x" * 500)
    assert seen_digest("a") != seen_digest("b")
    many = Cursor(before=T, seen=tuple(seen_digest(f"a{i}") for i in range(MAX_SEEN_IDS)), pages=(1,))
    assert len(encode_cursor(many)) < 2000  # a full same-second run still fits in a short link
