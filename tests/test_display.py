"""Pure presentation helpers: who did it, which day, how long ago; and upstream text clean-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from timeline_site.invent.parse import label, parse_activity, safe_url
from timeline_site.invent.spans import ActivitySpan, SpanState
from timeline_site.invent.types import Activity, Actor, Assistant, Note
from timeline_site.timeline.cards import human_size, note_preview, note_text
from timeline_site.timeline.display import (
    build_entries,
    day_label,
    exact_time,
    performer_of,
    relative_time,
    span_text,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def act(minutes_ago: int, **kwargs: object) -> Activity:
    return Activity(
        id=f"a{minutes_ago}", type="note_created", created_at=NOW - timedelta(minutes=minutes_ago), **kwargs
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 30), "Today"),
        (date(2026, 11, 29), "Yesterday"),
        (date(2026, 11, 26), "Thursday"),
        (date(2026, 11, 2), "Monday 2 November"),
        (date(2025, 3, 9), "9 March 2025"),
    ],
)
def test_day_labels(day: date, expected: str) -> None:
    assert day_label(day, date(2026, 11, 30)) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=20), "2 weeks ago"),
        (timedelta(days=100), "3 months ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, NOW) == expected


def test_exact_time_is_in_the_viewers_zone_with_its_label() -> None:
    assert exact_time(NOW, ZoneInfo("America/New_York")) == "Mon 30 Nov 2026, 07:00:00 EST"


def test_day_headers_follow_the_viewers_zone_and_skip_the_day_already_shown() -> None:
    activities = [act(60), act(60 * 13), act(60 * 30)]  # 11:00, 23:00 yesterday, 06:00 the day before (UTC)
    tokyo = build_entries(activities, offset=0, tz=ZoneInfo("Asia/Tokyo"), now=NOW, previous=None)
    assert [e.day for e in tokyo] == ["Today", None, "Yesterday"]  # in Tokyo 23:00 UTC is already today
    utc = build_entries(activities, offset=50, tz=UTC, now=NOW, previous=NOW - timedelta(minutes=10))
    assert [e.day for e in utc] == [None, "Yesterday", None]
    assert [e.position for e in utc] == [51, 52, 53]


def test_performer_is_assistant_then_staff_then_system() -> None:
    staff = Actor(id="u1", name="Grace Hopper")
    assert performer_of(act(1, actor=staff)).kind == "staff"
    assert performer_of(act(1, actor=staff, assistant=Assistant(id="b", name="Nova"))).kind == "assistant"
    assert performer_of(act(1, note=Note(id="n", user=staff))).name == "Grace Hopper"
    assert performer_of(act(1)).kind == "system"
    assert performer_of(act(1, actor=staff)).initials == "GH"


def test_note_text_escapes_everything_and_links_only_http() -> None:
    html = note_text('<b>hi</b>\nsee https://example.com/a?b=1&c=2. or javascript:alert(1) "x"')
    assert "&lt;b&gt;hi&lt;/b&gt;<br>" in html
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">' in html
    assert "</a>." in html and 'href="javascript' not in html and "&quot;x&quot;" in html


def test_note_preview_is_short_and_ends_with_an_ellipsis() -> None:
    preview = note_preview("word " * 1000)
    assert len(preview) <= 701 and preview.endswith("…")


def test_sizes_are_human() -> None:
    assert human_size(0) == "0 bytes" and human_size(5 * 1024**3) == "5.0 GB" and human_size(None) == "size unknown"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://files.example.com/a.png", "https://files.example.com/a.png"),
        ("http://127.0.0.1:8001/assets/a.png", "http://127.0.0.1:8001/assets/a.png"),
        ("/demo-invent/assets/a.png", "/demo-invent/assets/a.png"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" data:image/png;base64,AAAA", None),
        ("//evil.example/a.png", None),
        ("/\\evil.example", None),
        ("https://ex ample.com/", None),
        ("https://", None),
        ("vbscript:x", None),
        (42, None),
    ],
)
def test_safe_url(url: object, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_names_lose_bidi_overrides_and_invisible_characters() -> None:
    assert label("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert label("Ad\u200bmin\ufeff") == "Admin"
    parsed = parse_activity({"id": "a", "type": "note_created", "created_at": "2026-11-01T10:00:00Z",
                             "actor": {"id": "u", "name": "Mal\u202elory"}})  # fmt: skip
    assert parsed.actor is not None and parsed.actor.name == "Mallory"


def test_a_lower_bound_under_a_minute_says_the_length_is_unknown() -> None:
    start = NOW - timedelta(seconds=20)
    short = ActivitySpan(SpanState.BLOCKED, opens=False, start=start, end=NOW, at_least=True)
    assert span_text(short) == "Blocked for an unknown time"
    longer = ActivitySpan(SpanState.BLOCKED, opens=False, start=start - timedelta(days=3), end=NOW, at_least=True)
    assert span_text(longer) == "Blocked for at least 3 days"
    assert (
        span_text(ActivitySpan(SpanState.BLOCKED, opens=False, start=start, end=NOW))
        == "Blocked for less than a minute"
    )
