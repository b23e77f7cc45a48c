"""Turning typed activities into what a card shows: who, when, which day.

Pure functions of records, a time zone and "now", so they are easy to test
and the templates stay free of logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from timeline_site.invent.spans import SPAN_TYPES, ActivitySpan, SpanState
from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES, Activity

PerformerKind = Literal["staff", "assistant", "system"]

# English names, whatever the server's locale (strftime's %A and %B follow it),
# and cheaper than strftime on every card.
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")  # fmt: skip
_WEEKDAYS = tuple(name[:3] for name in _WEEKDAY_NAMES)
MONTHS_SHORT = tuple(name[:3] for name in _MONTH_NAMES)


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
    person = activity.actor or (activity.note.user if activity.note is not None else None)
    if person is not None:
        return Performer(kind="staff", name=person.name, avatar=person.avatar, initials=person.initials,
                         email=person.email)  # fmt: skip
    return SYSTEM


def day_label(day: date, today: date) -> str:
    delta = (today - day).days
    if delta == 0:
        return "Today"
    if delta == 1:
        return "Yesterday"
    weekday = _WEEKDAY_NAMES[day.weekday()]
    if 1 < delta < 7:
        return weekday
    if day.year == today.year:
        return f"{weekday} {day.day} {_MONTH_NAMES[day.month - 1]}"
    return f"{day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"


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


def exact_time(moment: datetime, tz: tzinfo) -> str:
    """ "Mon 30 Nov 2026, 07:00:00 EST": the moment in the viewer's zone, with the zone's name."""
    return _exact_local(moment.astimezone(tz))


def _exact_local(t: datetime) -> str:
    return (
        f"{_WEEKDAYS[t.weekday()]} {t.day} {MONTHS_SHORT[t.month - 1]} {t.year}, "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} {t.tzname()}"
    )


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
    activity: Activity
    performer: Performer
    position: int  # 1-based, for aria-posinset
    day: str | None  # a day header goes before this entry
    relative: str
    exact: str
    is_known_type: bool
    span: ActivitySpan | None = None  # for paired events (blocked/unblocked, ...): how long the state held
    span_text: str = ""
    span_pending: bool = False  # spans for this page follow in their own request


def build_entries(
    activities: Sequence[Activity],
    *,
    offset: int,
    tz: tzinfo,
    now: datetime,
    previous: datetime | None,
    spans: Mapping[str, ActivitySpan] | None = None,
) -> list[Entry]:
    """Cards for one page. `previous` is the time of the last card already on screen, so a day
    that started on the previous page gets no second header. `spans` (by activity id) come from
    timeline_site.invent.spans; None means they follow later (placeholders are left for them)."""
    pending = spans is None
    spans = spans or {}
    today = now.astimezone(tz).date()
    last_day = previous.astimezone(tz).date() if previous is not None else None
    entries = []
    for index, activity in enumerate(activities):
        local = activity.created_at.astimezone(tz)
        day = local.date()
        entries.append(
            Entry(
                activity=activity,
                performer=performer_of(activity),
                position=offset + index + 1,
                day=day_label(day, today) if day != last_day else None,
                relative=relative_time(activity.created_at, now),
                exact=_exact_local(local),
                is_known_type=activity.type in KNOWN_ACTIVITY_TYPES,
                span=spans.get(activity.id),
                span_text=span_text(spans[activity.id]) if activity.id in spans else "",
                span_pending=pending and activity.type in SPAN_TYPES,
            )
        )
        last_day = day
    return entries
