"""Pure presentation helpers: who did it, which day, how long ago; and upstream text clean-up."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import engines
from django.utils import translation
from django.utils.dateformat import format as format_date

from timeline_site.invent.kinds import GENERIC_KIND, KINDS, SpanState
from timeline_site.invent.pairing import ActivitySpan
from timeline_site.invent.parse import label, parse_activity, safe_url
from timeline_site.invent.types import Activity, Actor, Assistant, Note
from timeline_site.timeline.display import (
    EXACT_FORMAT,
    build_entries,
    day_label,
    exact_time,
    file_kind,
    humanize_type,
    metadata_items,
    performer_of,
    relative_time,
    span_text,
)
from timeline_site.timeline.jinja import NOTE_CACHE_MAX_CHARS
from timeline_site.timeline.notes import NOTE_PREVIEW_CHARS, NOTE_PREVIEW_LINES, is_long_note, note_preview

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


ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns",
         "Europe/Dublin", "Africa/Casablanca", "America/Sao_Paulo"]  # fmt: skip


@pytest.mark.parametrize("zone", ZONES)
def test_exact_time_says_what_djangos_date_engine_says(zone: str) -> None:
    """Names from Django's engine, numbers and the zone's name by plain formatting: the same text as the
    `date` filter's EXACT_FORMAT for any moment (400 random ones a zone, 1900 to 2100, seeded), except
    the hour a clock goes back, where Django names no zone (the next test)."""
    rng = random.Random(zone)
    tz = ZoneInfo(zone)
    for _ in range(400):
        moment = datetime(1900, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(200 * 365 * 86400))
        local = moment.astimezone(tz)
        if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
            continue  # ambiguous or skipped wall time
        assert exact_time(moment, tz) == format_date(local, EXACT_FORMAT), moment


def test_exact_time_names_the_zone_in_the_hour_a_clock_goes_back() -> None:
    new_york = ZoneInfo("America/New_York")
    first, second = datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert exact_time(first, new_york) == "Sun 1 Nov 2026, 01:30:00 EDT"
    assert exact_time(second, new_york) == "Sun 1 Nov 2026, 01:30:00 EST"


def test_date_words_are_written_in_the_active_language() -> None:
    """The words of a day are kept per language: a page in another language gets its own."""
    day = date(2026, 11, 30)
    with translation.override("de"):
        german = day_label(day, date(2026, 12, 20))
    with translation.override("en-gb"):
        english = day_label(day, date(2026, 12, 20))
    assert (german, english) == ("Montag 30 November", "Monday 30 November")


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


def card_filter(name: str, value: object) -> str:
    """A filter of the card templates' environment, applied as a template applies it."""
    return engines["cards"].env.from_string("{{ value|" + name + " }}").render(value=value)


def test_note_text_escapes_everything_and_links_only_http() -> None:
    html = card_filter("note_text", '<b>hi</b>\nsee https://example.com/a?b=1&c=2. or javascript:alert(1) "x"')
    assert "&lt;b&gt;hi&lt;/b&gt;<br>" in html
    assert (
        '<a target="_blank" rel="noopener noreferrer nofollow" href="https://example.com/a?b=1&amp;c=2">'
        "https://example.com/a?b=1&amp;c=2</a>." in html
    )
    assert 'href="javascript' not in html and '"x"' not in html and "&quot;x&quot;" in html
    assert html.count("<a ") == 1


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("see <https://example.com/x>", "https://example.com/x"),
        ('"https://example.com/q"', "https://example.com/q"),
        ("(https://example.com/p)", "https://example.com/p"),
        ("https://example.com/it's", "https://example.com/it"),
        ('https://e.com/"><script>alert(1)</script>', "https://e.com/"),
    ],
)
def test_note_links_stop_at_brackets_and_quotes(text: str, href: str) -> None:
    html = card_filter("note_text", text)
    assert f'href="{href}"' in html and html.count("<a ") == 1
    assert "<script" not in html and "<https" not in html


def test_note_text_keeps_windows_line_breaks_as_one() -> None:
    assert card_filter("note_text", "a\r\nb") == "a<br>b"


def test_a_kept_note_reads_as_a_note_linked_afresh() -> None:
    """Notes up to NOTE_CACHE_MAX_CHARS are linked once per process; longer ones every time: both the same."""
    short = '<i>x</i> mail ops@example.com or https://example.com/a?b=1&c=2 "q"\n'
    for text in (short, short * (NOTE_CACHE_MAX_CHARS // len(short) + 1)):
        first, again = card_filter("note_text", text), card_filter("note_text", text)
        assert first == again == card_filter("note_text", text + " ")[:-1] and "<i>" not in first
    assert len(short * (NOTE_CACHE_MAX_CHARS // len(short) + 1)) > NOTE_CACHE_MAX_CHARS


def test_note_preview_is_short_and_ends_with_an_ellipsis() -> None:
    preview = note_preview("word " * 1000)
    assert len(preview) <= NOTE_PREVIEW_CHARS + 1 and preview.endswith("…") and not preview.endswith(" …")
    lines = note_preview("\n".join(f"line {i}" for i in range(30)))
    assert lines.count("\n") == NOTE_PREVIEW_LINES - 1 and lines.endswith("line 9…")
    assert card_filter("note_preview", "word " * 1000) == preview


def test_a_note_is_long_by_length_or_by_lines() -> None:
    assert not is_long_note("x" * NOTE_PREVIEW_CHARS) and is_long_note("x" * (NOTE_PREVIEW_CHARS + 1))
    assert is_long_note("x\n" * NOTE_PREVIEW_LINES) and not is_long_note("x\n" * (NOTE_PREVIEW_LINES - 1))


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0\xa0bytes"), (1, "1\xa0byte"), (2048, "2.0\xa0KB"), (5 * 1024**3, "5.0\xa0GB")],
)
def test_sizes_are_human(size: int, text: str) -> None:
    assert card_filter("filesizeformat", size) == text


@pytest.mark.parametrize(
    ("mimetype", "kind"),
    [
        ("image/png", "image"),
        ("application/pdf", "pdf"),
        ("text/csv", "sheet"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "sheet"),
        ("application/zip", "archive"),
        ("text/plain", "text"),
        ("application/octet-stream", "file"),
        ("", "file"),
    ],
)
def test_file_kinds(mimetype: str, kind: str) -> None:
    assert file_kind(mimetype) == kind
    assert card_filter("file_kind", mimetype) == kind


def test_unknown_types_read_as_words() -> None:
    assert humanize_type("contact_merged") == "Contact merged"
    assert humanize_type("ticket-closed__twice") == "Ticket closed twice"
    assert humanize_type("___") == "Unnamed" and len(humanize_type("x" * 300)) == 64


def test_metadata_items_are_bounded_text() -> None:
    items = metadata_items({"merged_into": "ct_9", "count": 2, "tags": ["a", 1], "nested": {"k": [1, {"x": None}]}})
    assert items == [("Merged into", "ct_9"), ("Count", "2"), ("Tags", "a, 1"), ("Nested", '{"k": [1, {"x": null}]}')]
    assert metadata_items(["not", "a", "dict"]) == [] and metadata_items(None) == []
    many = metadata_items({f"k{i}": "v" * 900 for i in range(50)})
    assert len(many) == 20 and all(len(value) == 500 for _, value in many)
    assert len(metadata_items({"k" * 300: "v"})[0][0]) <= 80


def test_entries_carry_their_kind_and_whether_spans_follow() -> None:
    activities = [act(1), Activity(id="b", type="contact_blocked", created_at=NOW), Activity(id="m", type="merged",
                  created_at=NOW)]  # fmt: skip
    pending = build_entries(activities, offset=0, tz=UTC, now=NOW, previous=None)
    assert [e.kind for e in pending] == [KINDS["note_created"], KINDS["contact_blocked"], GENERIC_KIND]
    assert [e.span_pending for e in pending] == [False, True, False]
    assert [e.is_known_type for e in pending] == [True, True, False]
    span = ActivitySpan(SpanState.BLOCKED, opens=True, start=NOW, end=None)
    inline = build_entries(activities, offset=0, tz=UTC, now=NOW, previous=None, spans={"b": span})
    assert [e.span_pending for e in inline] == [False, False, False]
    assert inline[1].span == span and inline[1].span_text == "Still blocked" and inline[0].span_text == ""


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
