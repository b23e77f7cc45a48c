"""State spans: how long a contact stayed blocked, unsubscribed or in a segment.

Blocked/unblocked, unsubscribed/resubscribed and segment added/removed (per
segment id) come in pairs. The other half of a pair may sit on a timeline page
not loaded yet, so pairing never looks at the page alone: it reads Invent's
type-filtered streams of just those event types, newest first, through the page
cache (timeline.fetch_activity_page), as deep as the events in question need and
never deeper than MAX_PAGES_PER_STREAM.

Below what was read nothing is claimed. A closing event whose opening lies
deeper says "at least"; an opening event whose outcome is unknown says nothing.
Spans are an extra: a failed or over-budget read costs the spans, never the
timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import groupby
from typing import Literal

from django.conf import settings

from timeline_site.invent.budget import budget_used
from timeline_site.invent.client import MAX_TAKE
from timeline_site.invent.errors import InventError
from timeline_site.invent.timeline import fetch_activity_page, parallel_map
from timeline_site.invent.types import Activity, ActivityPage, Contact, Segment

logger = logging.getLogger(__name__)

MAX_PAGES_PER_STREAM = 3  # 300 events of one type: deeper than that, spans say "at least" or nothing
STREAM_TAKE = MAX_TAKE  # fewest calls; one cache entry per (type, page) shared by every reader
# Spans are optional: once this share of the shared upstream budget is used,
# they are skipped so that timelines keep their calls.
BUDGET_SHARE = 0.8
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class SpanState(StrEnum):
    BLOCKED = "blocked"
    UNSUBSCRIBED = "unsubscribed"
    SEGMENT = "segment"


@dataclass(frozen=True, slots=True)
class _Pair:
    state: SpanState
    opener: str
    closer: str


PAIRS: tuple[_Pair, ...] = (
    _Pair(SpanState.BLOCKED, "contact_blocked", "contact_unblocked"),
    _Pair(SpanState.UNSUBSCRIBED, "contact_unsubscribed", "contact_resubscribed"),
    _Pair(SpanState.SEGMENT, "segment_added", "segment_removed"),
)
_PAIR_OF_TYPE: dict[str, _Pair] = {t: pair for pair in PAIRS for t in (pair.opener, pair.closer)}
SPAN_TYPES: frozenset[str] = frozenset(_PAIR_OF_TYPE)


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


@dataclass(frozen=True, slots=True)
class SegmentMembership:
    segment: Segment
    since: datetime | None  # None: the segment_added event was not found within the bound


@dataclass(frozen=True, slots=True)
class ContactState:
    """The contact's current state for the page header. None in a field means "not known"."""

    blocked: bool | None
    blocked_since: datetime | None = None
    block_event: Activity | None = None  # the event that blocked the contact, when read
    unsubscribed: bool | None = None
    unsubscribed_since: datetime | None = None
    unsubscribe_event: Activity | None = None
    unsubscribe_reason: str = ""
    unsubscribe_feedback: str = ""
    segments: tuple[SegmentMembership, ...] | None = None
    from_events: bool = False  # no contact record: everything here comes from the activity history


UNKNOWN_STATE = ContactState(blocked=None)


# --- Reading the type-filtered streams -----------------------------------


@dataclass
class _Stream:
    activity_type: str
    items: list[Activity] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    next_page: int = 1  # 0 once the last page was read
    pages_read: int = 0

    @property
    def exhausted(self) -> bool:
        return self.next_page == 0

    @property
    def can_read(self) -> bool:
        return not self.exhausted and self.pages_read < MAX_PAGES_PER_STREAM

    @property
    def horizon(self) -> datetime | None:
        """Every event of this type strictly newer than this was read; None: every event was."""
        if self.exhausted:
            return None
        return min((a.created_at for a in self.items), default=_END_OF_TIME)

    def add(self, items: Iterable[Activity], *, has_more: bool) -> None:
        for activity in items:
            if activity.id not in self.ids:  # the live feed shifted between two pages
                self.ids.add(activity.id)
                self.items.append(activity)
        self.pages_read += 1
        self.next_page = self.next_page + 1 if has_more else 0


class _Streams:
    def __init__(self, *, org_id: str, contact_id: str) -> None:
        self.org_id = org_id
        self.contact_id = contact_id
        self._streams: dict[str, _Stream] = {}

    def __getitem__(self, activity_type: str) -> _Stream:
        if activity_type not in self._streams:
            self._streams[activity_type] = _Stream(activity_type)
        return self._streams[activity_type]

    def horizon(self, pair: _Pair) -> datetime | None:
        horizons = [h for h in (self[pair.opener].horizon, self[pair.closer].horizon) if h is not None]
        return max(horizons, default=None)

    def read_next(self, streams: Sequence[_Stream]) -> bool:
        """Read the next page of each stream that may still be read; False when none could."""
        todo = [s for s in streams if s.can_read]
        if not todo:
            return False

        def fetch(stream: _Stream) -> tuple[_Stream, ActivityPage]:
            page, _stale = fetch_activity_page(
                org_id=self.org_id, contact_id=self.contact_id, activity_type=stream.activity_type,
                page=stream.next_page, take=STREAM_TAKE,
            )  # fmt: skip
            return stream, page

        results = parallel_map(fetch, todo)
        for stream, page in results:
            stream.add(page.items, has_more=page.has_more)
        return True

    def read_below(self, pair: _Pair, moment: datetime) -> None:
        """Read both streams of `pair` until each holds an event strictly older than `moment` (or ends)."""
        while True:
            behind = [
                s for s in (self[pair.opener], self[pair.closer])
                if s.horizon is not None and s.horizon >= moment
            ]  # fmt: skip
            if not self.read_next(behind):
                return

    def deepen(self, pair: _Pair) -> bool:
        """Read one more page of whichever stream of `pair` limits what is known; False when neither can."""
        candidates = [s for s in (self[pair.opener], self[pair.closer]) if s.can_read]
        if not candidates:
            return False
        limiting = max(candidates, key=lambda s: s.horizon or _END_OF_TIME)
        return self.read_next([limiting])


def _budget_allows_spans() -> bool:
    limit = settings.INVENT_BUDGET_PER_MINUTE
    return limit <= 0 or budget_used() < limit * BUDGET_SHARE


# --- Pairing ---------------------------------------------------------------


def _key_of(activity: Activity, pair: _Pair) -> str | None:
    """Which state the event belongs to: one per contact, or one per segment id (None: cannot tell)."""
    if pair.state is SpanState.SEGMENT:
        return activity.segment.id if activity.segment is not None and activity.segment.id else None
    return ""


def _chronological(
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
class _Walk:
    spans: dict[str, ActivitySpan] = field(default_factory=dict)
    state: Literal["open", "closed", "unknown"] = "unknown"
    run: list[Activity] = field(default_factory=list)  # the opening events of the current open run
    unresolved: set[str] = field(default_factory=set)  # closing events whose opening lies deeper


def _walk(pair: _Pair, key: str, streams: _Streams) -> _Walk:
    """Pair the events of one state (one segment, or the contact's block or subscription)."""
    horizon = streams.horizon(pair)
    events = [
        a for a in (*streams[pair.opener].items, *streams[pair.closer].items)
        if _key_of(a, pair) == key and (horizon is None or a.created_at > horizon)
    ]  # fmt: skip
    walk = _Walk(state="closed" if horizon is None else "unknown")

    def opens(a: Activity) -> bool:
        return a.type == pair.opener

    segment_id = key if pair.state is SpanState.SEGMENT else ""
    for event in _chronological(events, opens=opens, open_before=False if horizon is None else None):
        if opens(event):
            if walk.state != "open":
                walk.state, walk.run = "open", []
            walk.run.append(event)
            continue
        if walk.state == "open":
            start = walk.run[0].created_at
            walk.spans[event.id] = ActivitySpan(pair.state, False, start, event.created_at, segment_id=segment_id)
            for opener in walk.run:
                walk.spans[opener.id] = ActivitySpan(
                    pair.state, True, opener.created_at, event.created_at, segment_id=segment_id
                )
        elif walk.state == "unknown" and horizon is not None:
            # Nothing opened it since the horizon, so it was opened at or before it.
            walk.spans[event.id] = ActivitySpan(
                pair.state, False, horizon, event.created_at, at_least=True, segment_id=segment_id
            )
            walk.unresolved.add(event.id)
        # "closed": a closing event with no opening on record at all; nothing to say.
        walk.state, walk.run = "closed", []
    for opener in walk.run:
        walk.spans[opener.id] = ActivitySpan(pair.state, True, opener.created_at, None, segment_id=segment_id)
    return walk


def _resolved(pair: _Pair, keyed: dict[str, list[Activity]], streams: _Streams) -> dict[str, ActivitySpan]:
    """Spans for `keyed` events, reading deeper while some of them cannot be told yet."""
    while True:
        spans: dict[str, ActivitySpan] = {}
        horizon = streams.horizon(pair)
        pending = False
        for key, events in keyed.items():
            walk = _walk(pair, key, streams)
            spans.update(walk.spans)
            pending = pending or any(
                e.id in walk.unresolved or (horizon is not None and e.created_at <= horizon) for e in events
            )
        if not pending or not streams.deepen(pair):
            return spans


def activity_spans(
    *, org_id: str, contact_id: str, activities: Sequence[Activity], streams: _Streams | None = None
) -> dict[str, ActivitySpan]:
    """Spans for the paired events among `activities`, keyed by activity id.

    Events missing from the result have nothing reliable to say (no other half
    on record, or it lies beyond the read bound).
    """
    wanted: dict[_Pair, dict[str, list[Activity]]] = {}
    for activity in activities:
        pair = _PAIR_OF_TYPE.get(activity.type)
        key = _key_of(activity, pair) if pair is not None else None
        if pair is not None and key is not None:
            wanted.setdefault(pair, {}).setdefault(key, []).append(activity)
    if not wanted or not _budget_allows_spans():
        return {}
    streams = streams or _Streams(org_id=org_id, contact_id=contact_id)
    shown = {a.id for a in activities}
    spans: dict[str, ActivitySpan] = {}
    try:
        # The first page of every stream involved in one round, not one round per pair.
        streams.read_next([streams[t] for pair in wanted for t in (pair.opener, pair.closer)])
        for pair, keyed in wanted.items():
            oldest = min(a.created_at for events in keyed.values() for a in events)
            streams.read_below(pair, oldest)
            spans.update(_resolved(pair, keyed, streams))
    except InventError as exc:
        logger.info("No state spans for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return {}
    return {ident: span for ident, span in spans.items() if ident in shown}


# --- The current state, for the header -------------------------------------


def _text(metadata: Mapping[str, object] | None, key: str) -> str:
    value = metadata.get(key) if metadata is not None else None
    return value[:1000] if isinstance(value, str) else ""


def _latest_opener(pair: _Pair, streams: _Streams) -> Activity | None:
    stream = streams[pair.opener]
    if stream.pages_read == 0:
        streams.read_next([stream])
    return max(stream.items, key=lambda a: (a.created_at, a.id), default=None)


def _state_from_events(pair: _Pair, key: str, streams: _Streams) -> _Walk:
    streams.read_next([streams[pair.opener], streams[pair.closer]])  # the first pages, together
    walk = _walk(pair, key, streams)
    while walk.state == "unknown" and streams.deepen(pair):
        walk = _walk(pair, key, streams)
    return walk


def _segments_for_contact(contact: Contact, streams: _Streams) -> tuple[SegmentMembership, ...]:
    """The contact's segments, each with the time of its latest segment_added event."""
    stream = streams[PAIRS[2].opener]
    latest: dict[str, datetime] = {}
    wanted = {s.id for s in contact.segments if s.id}
    while True:
        for activity in stream.items:
            key = _key_of(activity, PAIRS[2])
            if key in wanted and (key not in latest or activity.created_at > latest[key]):
                latest[key] = activity.created_at
        if wanted <= set(latest) or not streams.read_next([stream]):
            break
    return tuple(SegmentMembership(s, latest.get(s.id)) for s in contact.segments)


def _segments_from_events(streams: _Streams) -> tuple[SegmentMembership, ...] | None:
    pair = PAIRS[2]
    opener, closer = streams[pair.opener], streams[pair.closer]
    while streams.read_next([opener, closer]):  # bounded by MAX_PAGES_PER_STREAM
        pass
    members: list[SegmentMembership] = []
    keys = {k for a in opener.items if (k := _key_of(a, pair))}
    for key in sorted(keys):
        walk = _walk(pair, key, streams)
        if walk.state == "open":
            first = walk.run[0]
            latest = max(walk.run, key=lambda a: a.created_at)
            assert latest.segment is not None
            members.append(SegmentMembership(latest.segment, first.created_at))
    members.sort(key=lambda m: m.since or _END_OF_TIME)
    return tuple(members)


def _state_for_contact(contact: Contact, streams: _Streams | None) -> ContactState:
    """From the contact record; `streams` (None: none may be read) adds missing starts and reasons."""
    block_event = unsubscribe_event = None
    segments: tuple[SegmentMembership, ...] | None = tuple(SegmentMembership(s, None) for s in contact.segments)
    try:
        if streams is not None and contact.blocked:
            block_event = _latest_opener(PAIRS[0], streams)
        if streams is not None and contact.unsubscribed:
            unsubscribe_event = _latest_opener(PAIRS[1], streams)
        if streams is not None and contact.segments:
            segments = _segments_for_contact(contact, streams)
    except InventError as exc:
        logger.info("Contact state of %s from the contact only: %s", contact.id, type(exc).__name__)
    blocked_since = unsubscribed_since = None
    reason = feedback = ""
    if contact.blocked:
        blocked_since = contact.blocked_at or (block_event.created_at if block_event else None)
    if contact.unsubscribed:
        unsubscribed_since = contact.unsubscribed_at or (unsubscribe_event.created_at if unsubscribe_event else None)
        metadata = unsubscribe_event.metadata if unsubscribe_event is not None else None
        reason = contact.unsubscribe_reason or _text(metadata, "reason")
        feedback = contact.unsubscribe_feedback or _text(metadata, "feedback")
    return ContactState(
        blocked=contact.blocked,
        blocked_since=blocked_since,
        block_event=block_event,
        unsubscribed=contact.unsubscribed,
        unsubscribed_since=unsubscribed_since,
        unsubscribe_event=unsubscribe_event,
        unsubscribe_reason=reason,
        unsubscribe_feedback=feedback,
        segments=segments,
    )


def _state_without_contact(streams: _Streams) -> ContactState:
    blocked, unsubscribed = (_state_from_events(pair, "", streams) for pair in PAIRS[:2])
    block_event = blocked.run[0] if blocked.state == "open" else None
    unsubscribe_event = unsubscribed.run[0] if unsubscribed.state == "open" else None
    metadata = unsubscribe_event.metadata if unsubscribe_event is not None else None
    return ContactState(
        blocked=None if blocked.state == "unknown" else blocked.state == "open",
        blocked_since=block_event.created_at if block_event else None,
        block_event=block_event,
        unsubscribed=None if unsubscribed.state == "unknown" else unsubscribed.state == "open",
        unsubscribed_since=unsubscribe_event.created_at if unsubscribe_event else None,
        unsubscribe_event=unsubscribe_event,
        unsubscribe_reason=_text(metadata, "reason"),
        unsubscribe_feedback=_text(metadata, "feedback"),
        segments=_segments_from_events(streams),
        from_events=True,
    )


def contact_state(
    *, org_id: str, contact_id: str, contact: Contact | None, streams: _Streams | None = None
) -> ContactState:
    """The contact's block, subscription and segments now, each with its start.

    The contact record is the authority when Invent gives one (`blocked`,
    `blocked_at`, ...); the activity history fills in what it lacks (a missing
    start, the block's reason) and stands in for it when there is no record.
    """
    if not _budget_allows_spans():
        streams = None
    elif streams is None:
        streams = _Streams(org_id=org_id, contact_id=contact_id)
    if contact is not None:
        return _state_for_contact(contact, streams)
    if streams is None:
        return UNKNOWN_STATE
    try:
        return _state_without_contact(streams)
    except InventError as exc:
        logger.info("No contact state for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return UNKNOWN_STATE


def spans_and_state(
    *, org_id: str, contact_id: str, activities: Sequence[Activity], contact: Contact | None
) -> tuple[dict[str, ActivitySpan], ContactState]:
    """What a full page needs: its cards' spans and the header's state. Both read the
    same type-filtered streams, so they share one reader and no page is fetched twice."""
    streams = _Streams(org_id=org_id, contact_id=contact_id)
    spans = activity_spans(org_id=org_id, contact_id=contact_id, activities=activities, streams=streams)
    return spans, contact_state(org_id=org_id, contact_id=contact_id, contact=contact, streams=streams)
