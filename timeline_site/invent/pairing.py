"""State spans as pure functions: how long a contact stayed blocked, unsubscribed or in a segment.

Blocked/unblocked, unsubscribed/resubscribed and segment added/removed (per
segment id) come in pairs (kinds.PAIRS). Given the events of one pair that were
read, and the horizon above which that read is complete, these functions say
what each event can truthfully claim. Below the horizon nothing is claimed: a
closing event whose opening lies deeper says "at least"; an opening event whose
outcome is unknown says nothing. No I/O here: spans.py and contact_state.py
decide what to read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Literal

from timeline_site.invent.kinds import Pair, SpanState
from timeline_site.invent.types import Activity


@dataclass(frozen=True, slots=True)
class ActivitySpan:
    """What pairing says about one opening or closing event."""

    state: SpanState
    opens: bool  # True: this event began the state; False: it ended it
    start: datetime  # when the state began (an opening event: its own time)
    end: datetime | None  # when it ended (a closing event: its own time); None while it still holds
    at_least: bool = False  # the state began at or before `start`: older events were not read
    segment_id: str = ""

    @property
    def still(self) -> bool:
        return self.end is None

    @property
    def duration(self) -> timedelta | None:
        return None if self.end is None else max(self.end - self.start, timedelta(0))


def key_of(activity: Activity, pair: Pair) -> str | None:
    """Which state the event belongs to: one per contact (""), or one per segment id (None: cannot tell)."""
    if pair.per_segment:
        return activity.segment.id if activity.segment is not None and activity.segment.id else None
    return ""


def chronological(
    events: Sequence[Activity], *, opens: Callable[[Activity], bool], open_before: bool | None
) -> list[Activity]:
    """Oldest first. Events at the same instant (Invent's tie order is undocumented) are put in the
    order the state allows: an opening first when the state was closed, a closing first when open."""
    ordered: list[Activity] = []
    state = True if open_before is None else open_before  # unknown: a closing event is the likelier
    for _moment, group in groupby(sorted(events, key=lambda a: (a.created_at, a.id)), key=lambda a: a.created_at):
        openers: list[Activity] = []
        closers: list[Activity] = []
        for event in group:
            (openers if opens(event) else closers).append(event)
        while openers or closers:
            queue = (closers or openers) if state else (openers or closers)
            event = queue.pop(0)
            ordered.append(event)
            state = opens(event)
    return ordered


@dataclass
class Walk:
    spans: dict[str, ActivitySpan] = field(default_factory=dict)
    state: Literal["open", "closed", "unknown"] = "unknown"
    run: list[Activity] = field(default_factory=list)  # the opening events of the current open run
    unresolved: set[str] = field(default_factory=set)  # closing events whose opening lies deeper


def walk(pair: Pair, key: str, events: Sequence[Activity], horizon: datetime | None) -> Walk:
    """Pair the events of one state (one segment, or the contact's block or subscription).

    `events` are the events of both kinds of `pair` that were read; `horizon` is the time above
    which that read is complete (None: every event was read)."""
    mine = [a for a in events if key_of(a, pair) == key and (horizon is None or a.created_at > horizon)]
    result = Walk(state="closed" if horizon is None else "unknown")

    def opens(a: Activity) -> bool:
        return a.type == pair.opener

    segment_id = key if pair.per_segment else ""
    for event in chronological(mine, opens=opens, open_before=False if horizon is None else None):
        if opens(event):
            if result.state != "open":
                result.state, result.run = "open", []
            result.run.append(event)
            continue
        if result.state == "open":
            start = result.run[0].created_at
            result.spans[event.id] = ActivitySpan(pair.state, False, start, event.created_at, segment_id=segment_id)
            for opener in result.run:
                result.spans[opener.id] = ActivitySpan(
                    pair.state, True, opener.created_at, event.created_at, segment_id=segment_id
                )
        elif result.state == "unknown" and horizon is not None:
            # Nothing opened it since the horizon, so it was opened at or before it.
            result.spans[event.id] = ActivitySpan(
                pair.state, False, horizon, event.created_at, at_least=True, segment_id=segment_id
            )
            result.unresolved.add(event.id)
        # "closed": a closing event with no opening on record at all; nothing to say.
        result.state, result.run = "closed", []
    for opener in result.run:
        result.spans[opener.id] = ActivitySpan(pair.state, True, opener.created_at, None, segment_id=segment_id)
    return result


def keyed_events(activities: Sequence[Activity], pair: Pair) -> dict[str, list[Activity]]:
    """The events of `pair` among `activities`, by state key (events whose state cannot be told are left out)."""
    keyed: dict[str, list[Activity]] = {}
    for activity in activities:
        if activity.type in (pair.opener, pair.closer) and (key := key_of(activity, pair)) is not None:
            keyed.setdefault(key, []).append(activity)
    return keyed


def spans_of(
    pair: Pair, keyed: dict[str, list[Activity]], events: Sequence[Activity], horizon: datetime | None
) -> tuple[dict[str, ActivitySpan], bool]:
    """Spans for the `keyed` events from what was read, and whether some of them need a deeper read."""
    spans: dict[str, ActivitySpan] = {}
    pending = False
    for key, wanted in keyed.items():
        result = walk(pair, key, events, horizon)
        spans.update(result.spans)
        pending = pending or any(
            e.id in result.unresolved or (horizon is not None and e.created_at <= horizon) for e in wanted
        )
    return spans, pending
