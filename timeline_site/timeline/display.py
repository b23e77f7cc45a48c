"""Turning typed activities into what a card shows: who, when, which day, how long a state lasted.

Pure functions of records, a time zone and "now", so they are easy to test and
the templates stay free of logic. The names of days and months are written by
Django's own date formatting (the `date` filter's engine), once per day and
language in a process (`date_words`); the numbers of a clock by plain formatting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from django.utils.dateformat import format as format_date
from django.utils.text import slugify
from django.utils.translation import get_language

from timeline_site.invent.cursor import seen_digest
from timeline_site.invent.kinds import SPAN_TYPES, ActivityKind, SpanState, kind_of
from timeline_site.invent.pairing import ActivitySpan
from timeline_site.invent.types import Activity, ActorKind

PerformerKind = ActorKind
EXACT_FORMAT = "D j M Y, H:i:s T"  # "Mon 30 Nov 2026, 07:00:00 EST", as exact_time writes it


@dataclass(frozen=True, slots=True)
class Performer:
    """Who did it, shown the same way on every card."""

    kind: PerformerKind
    name: str
    avatar: str | None = None
    initials: str = ""
    email: str = ""


SYSTEM = Performer(kind="system", name="System")


def performer_of(activity: Activity) -> Performer:
    if activity.assistant is not None:
        a = activity.assistant
        return Performer(kind="assistant", name=a.name, avatar=a.avatar_url, initials=a.initials)
    person = activity.staff_member
    if person is not None:
        return Performer(kind="staff", name=person.name, avatar=person.avatar, initials=person.initials,
                         email=person.email)  # fmt: skip
    return SYSTEM


def date_words(day: date, style: str, language: str | None = None) -> str:
    """`day` as Django's `date` filter writes it in `style` ("l j F": "Monday 30 November"), in the
    active language (or `language`, when the caller has asked Django for it once for many days). A
    page has a day header and an exact time on every card, and Django's engine looks up each name
    through the translation machinery: the same few hundred days come up on every page, so each day
    is written once per style and language in a process."""
    return _date_words(day, style, language or get_language())


@lru_cache(maxsize=4096)
def _date_words(day: date, style: str, language: str | None) -> str:
    return format_date(day, style)


def day_label(day: date, today: date, language: str | None = None) -> str:
    delta = (today - day).days
    if delta == 0:
        return "Today"
    if delta == 1:
        return "Yesterday"
    if 1 < delta < 7:
        return date_words(day, "l", language)
    if day.year == today.year:
        return date_words(day, "l j F", language)
    return date_words(day, "j F Y", language)


def relative_time(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "in the future" if seconds < -120 else "just now"
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h ago"
    days = hours // 24
    if days < 7:
        return "1 day ago" if days == 1 else f"{days} days ago"
    if days < 365:
        weeks = days // 7
        return "1 week ago" if weeks == 1 else f"{weeks} weeks ago" if days < 60 else f"{days // 30} months ago"
    years = days // 365
    return "1 year ago" if years == 1 else f"{years} years ago"


def clock_time(local: datetime) -> str:
    """ "11:02": hours and minutes on the 24-hour clock, as Django's "H:i" writes them (no names, nothing
    to translate, so plain formatting says the same at a fraction of the cost on every card)."""
    return f"{local.hour:02d}:{local.minute:02d}"


def exact_time(moment: datetime, tz: tzinfo, language: str | None = None) -> str:
    """ "Mon 30 Nov 2026, 07:00:00 EST": the moment in the viewer's zone, with the zone's name; what
    Django writes for EXACT_FORMAT, the day's names from its engine (date_words). The zone's name is
    the zone's own for that moment, also in the hour a clock goes back, where Django writes none."""
    local = moment.astimezone(tz)
    day = date_words(local.date(), "D j M Y", language)
    return f"{day}, {local.hour:02d}:{local.minute:02d}:{local.second:02d} {local.tzname() or ''}".rstrip()


def zone_label(zone: tzinfo, now: datetime) -> str:
    """ "New York (EST)": the city of the viewer's IANA zone and its abbreviation right now, so the
    page can say once which clock its times are on. Numeric abbreviations ("+03") read as UTC offsets."""
    name = str(getattr(zone, "key", "") or zone)
    city = name.rsplit("/", 1)[-1].replace("_", " ")[:64] or "UTC"
    abbreviation = format_date(now.astimezone(zone), "T").strip()
    if abbreviation[:1] in "+-" and abbreviation[1:].isdigit():
        abbreviation = f"UTC{abbreviation}"
    if not abbreviation or abbreviation == city:
        return city
    return f"{city} ({abbreviation})"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def duration_text(length: timedelta) -> str:
    """A span's length as staff say it: "3 days", "2 weeks", "less than a minute"."""
    seconds = int(length.total_seconds())
    if seconds < 60:
        return "less than a minute"
    minutes = seconds // 60
    if minutes < 60:
        return _plural(minutes, "minute")
    hours = minutes // 60
    if hours < 24:
        return _plural(hours, "hour")
    days = hours // 24
    if days < 14:
        return _plural(days, "day")
    if days < 60:
        return _plural(days // 7, "week")
    if days < 730:
        return _plural(days // 30, "month")
    return _plural(days // 365, "year")


# (what a closing event says, what an opening event says once closed, ... while it still holds)
_SPAN_WORDS: dict[SpanState, tuple[str, str, str]] = {
    SpanState.BLOCKED: ("Blocked for", "Unblocked", "Still blocked"),
    SpanState.UNSUBSCRIBED: ("Unsubscribed for", "Resubscribed", "Still unsubscribed"),
    SpanState.SEGMENT: ("In this segment for", "Removed", "Still in this segment"),
}


def span_text(span: ActivitySpan) -> str:
    """What a paired event says: "Blocked for 3 days", "Still blocked", "Unblocked 3 days later"."""
    lasted, ended, still = _SPAN_WORDS[span.state]
    duration = span.duration
    if duration is None:
        return still
    length = duration_text(duration)
    if span.opens:
        return f"{ended} within a minute" if duration < timedelta(minutes=1) else f"{ended} {length} later"
    if span.at_least:
        # It began before the oldest event read: the length is only a lower bound,
        # and "at least less than a minute" would say nothing.
        return f"{lasted} an unknown time" if duration < timedelta(minutes=1) else f"{lasted} at least {length}"
    return f"{lasted} {length}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One card: the activity, what kind it is, and everything the card template shows about it."""

    activity: Activity
    kind: ActivityKind
    performer: Performer
    position: int  # 1-based, for aria-posinset
    day: str | None  # a day header goes before this entry
    relative: str
    exact: str
    span: ActivitySpan | None = None  # for paired events (blocked/unblocked, ...): how long the state held
    span_text: str = ""
    span_pending: bool = False  # spans for this page follow in their own request
    clock: str = ""  # "11:02" in the viewer's zone
    # Finding your place (timeline/place_links.py, last_visit.py):
    permalink: str = ""  # this activity's link: the timeline opened at it, filters kept
    key: str = ""  # its element ids' stem when not its position (pages inserted above the first one)
    place: str = ""  # "current": the activity a link or date opened at; "near": where a gone one was
    place_note: str = ""  # said at the place ("This activity is no longer in the timeline ...")
    last_visit: str = ""  # "Your last visit: yesterday 16:20", on the newest activity the reader had seen
    # The card's time for machines: to the second (<time datetime>, which allows no finer than a
    # millisecond), and exactly as Invent sent it (data-created-at: what the last-visit line compares).
    datetime_attr: str = ""
    created_at_attr: str = ""

    @property
    def is_known_type(self) -> bool:
        return bool(self.kind.value)

    @property
    def type_class(self) -> str:
        """The activity's type as a class name ("activity-note_created"), whatever Invent calls it."""
        return type_class(self.activity.type)

    @property
    def dom_id(self) -> str:
        """The stem of this card's element ids (title, span): unique on the page however it was loaded."""
        return self.key or str(self.position)


def build_entries(
    activities: Sequence[Activity],
    *,
    offset: int,
    tz: tzinfo,
    now: datetime,
    previous: datetime | None,
    spans: Mapping[str, ActivitySpan] | None = None,
    link: Callable[[Activity], str] | None = None,
    keyed: bool = False,
) -> list[Entry]:
    """Cards for one page. `previous` is the time of the last card already on screen, so a day
    that started on the previous page gets no second header. `spans` (by activity id) come from
    timeline_site.invent.spans; None means they follow later (placeholders are left for them).
    `link` makes each card's permalink; `keyed`: element ids from the activity, not the position
    (a page inserted above others, whose positions are not known for certain)."""
    pending = spans is None
    spans = spans or {}
    today = now.astimezone(tz).date()
    last_day = previous.astimezone(tz).date() if previous is not None else None
    language = get_language()  # once for the page's day headers and exact times
    entries = []
    for index, activity in enumerate(activities):
        local = activity.created_at.astimezone(tz)
        day = local.date()
        entries.append(
            Entry(
                activity=activity,
                kind=kind_of(activity.type),
                performer=performer_of(activity),
                position=offset + index + 1,
                day=day_label(day, today, language) if day != last_day else None,
                relative=relative_time(activity.created_at, now),
                exact=exact_time(local, tz, language),
                clock=clock_time(local),
                span=spans.get(activity.id),
                span_text=span_text(spans[activity.id]) if activity.id in spans else "",
                span_pending=pending and activity.type in SPAN_TYPES,
                permalink=link(activity) if link is not None else "",
                key=f"n{seen_digest(activity.id)}" if keyed else "",
                datetime_attr=activity.created_at.isoformat(timespec="seconds"),
                created_at_attr=activity.created_at.isoformat(),
            )
        )
        last_day = day
    return entries


@lru_cache(maxsize=256)
def type_class(activity_type: str) -> str:
    """Django's slugify of an activity's type, once per type in a process (a page has fifty cards of a
    handful of types)."""
    return slugify(activity_type)


def file_kind(mimetype: str) -> str:
    """The icon a file gets for its MIME type."""
    if mimetype.startswith("image/"):
        return "image"
    if mimetype == "application/pdf":
        return "pdf"
    if mimetype in {"text/csv", "application/vnd.ms-excel"} or "spreadsheet" in mimetype:
        return "sheet"
    if mimetype in {"application/zip", "application/x-zip-compressed", "application/gzip", "application/x-tar"}:
        return "archive"
    if mimetype.startswith("text/"):
        return "text"
    return "file"


def humanize_type(activity_type: str) -> str:
    """An unknown kind's name as words: "contact_merged" -> "Contact merged"."""
    words = " ".join(activity_type.replace("_", " ").replace("-", " ").split())[:64]
    return words[:1].upper() + words[1:] if words else "Unnamed"


def metadata_items(metadata: object) -> list[tuple[str, str]]:
    """Metadata as readable (key, value) text pairs, bounded in count and length: keys as words,
    lists joined with commas, anything nested written as compact JSON."""
    if not isinstance(metadata, dict):
        return []
    items = []
    for key, value in list(metadata.items())[:20]:
        if isinstance(value, str):
            shown = value
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        items.append((humanize_type(str(key))[:80], shown[:500]))
    return items
