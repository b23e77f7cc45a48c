"""Turning typed activities into what a card shows: who, when, which day.

Pure functions of records, a time zone and "now", so they are easy to test
and the templates stay free of logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES, Activity
from timeline_site.timeline.cards import card_template

PerformerKind = Literal["staff", "assistant", "system"]


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
    if 1 < delta < 7:
        return day.strftime("%A")
    if day.year == today.year:
        return f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
    return f"{day.day} {day.strftime('%B %Y')}"


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
    local = moment.astimezone(tz)
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y, %H:%M:%S')} {local.tzname()}"


def type_label(activity_type: str) -> str:
    return activity_type.replace("_", " ").strip().capitalize() or "Activity"


@dataclass(frozen=True, slots=True)
class Entry:
    activity: Activity
    template: str
    performer: Performer
    position: int  # 1-based, for aria-posinset
    day: str | None  # a day header goes before this entry
    relative: str
    exact: str
    is_known_type: bool


def build_entries(
    activities: Sequence[Activity], *, offset: int, tz: tzinfo, now: datetime, previous: datetime | None
) -> list[Entry]:
    """Cards for one page. `previous` is the time of the last card already on screen, so a day
    that started on the previous page gets no second header."""
    today = now.astimezone(tz).date()
    last_day = previous.astimezone(tz).date() if previous is not None else None
    entries = []
    for index, activity in enumerate(activities):
        day = activity.created_at.astimezone(tz).date()
        entries.append(
            Entry(
                activity=activity,
                template=card_template(activity.type),
                performer=performer_of(activity),
                position=offset + index + 1,
                day=day_label(day, today) if day != last_day else None,
                relative=relative_time(activity.created_at, now),
                exact=exact_time(activity.created_at, tz),
                is_known_type=activity.type in KNOWN_ACTIVITY_TYPES,
            )
        )
        last_day = day
    return entries
