"""The contact's state now, for the page header: blocked or unsubscribed since when, by whom and why,
and its segments, each with its start.

The contact record is the authority when Invent gives one (`blocked`,
`blocked_at`, ...); the activity history fills in what it lacks (a missing
start, the block's reason and who did it) and stands in for it when there is no
record. History is read through the same StreamSet as the page's spans, so no
page is read twice, and a first page's own activities are used before anything
is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from timeline_site.invent.errors import InventError
from timeline_site.invent.kinds import PAIR_OF_STATE, Pair, SpanState
from timeline_site.invent.pairing import ActivitySpan, Walk, key_of, walk
from timeline_site.invent.spans import activity_spans, budget_allows_spans
from timeline_site.invent.streams import END_OF_TIME, StreamSet
from timeline_site.invent.types import Activity, Contact, Segment

logger = logging.getLogger(__name__)

BLOCK, SUBSCRIPTION, SEGMENTS = (PAIR_OF_STATE[s] for s in (SpanState.BLOCKED, SpanState.UNSUBSCRIBED,
                                                              SpanState.SEGMENT))  # fmt: skip


@dataclass(frozen=True, slots=True)
class SegmentMembership:
    segment: Segment
    since: datetime | None  # None: the segment_added event was not found within the bound


@dataclass(frozen=True, slots=True)
class ContactState:
    """None in a field means "not known"."""

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
    worked_out: bool = True  # False: the history was not read (budget low, Invent failed)


UNKNOWN_STATE = ContactState(blocked=None, worked_out=False)


def _walk(pair: Pair, key: str, streams: StreamSet) -> Walk:
    events = [*streams[pair.opener].items, *streams[pair.closer].items]
    return walk(pair, key, events, streams.horizon((pair.opener, pair.closer)))


def _latest_opener(pair: Pair, streams: StreamSet) -> Activity | None:
    stream = streams[pair.opener]
    if not stream.items:
        streams.read_next([stream])
    return max(stream.items, key=lambda a: (a.created_at, a.id), default=None)


def _state_from_events(pair: Pair, streams: StreamSet) -> Walk:
    result = _walk(pair, "", streams)
    while result.state == "unknown" and streams.deepen((pair.opener, pair.closer)):
        result = _walk(pair, "", streams)
    return result


def _segments_for_contact(contact: Contact, streams: StreamSet) -> tuple[SegmentMembership, ...]:
    """The contact's segments, each with the time of its latest segment_added event."""
    stream = streams[SEGMENTS.opener]
    latest: dict[str, datetime] = {}
    wanted = {s.id for s in contact.segments if s.id}
    while True:
        for activity in stream.items:
            key = key_of(activity, SEGMENTS)
            if key in wanted and (key not in latest or activity.created_at > latest[key]):
                latest[key] = activity.created_at
        if wanted <= set(latest) or not streams.read_next([stream]):
            break
    return tuple(SegmentMembership(s, latest.get(s.id)) for s in contact.segments)


def _segments_from_events(streams: StreamSet) -> tuple[SegmentMembership, ...]:
    opener, closer = streams[SEGMENTS.opener], streams[SEGMENTS.closer]
    while streams.read_next([opener, closer]):  # bounded by the StreamSet's pages per stream
        pass
    members: list[SegmentMembership] = []
    for key in sorted({k for a in opener.items if (k := key_of(a, SEGMENTS))}):
        result = _walk(SEGMENTS, key, streams)
        if result.state == "open":
            latest = max(result.run, key=lambda a: a.created_at)
            assert latest.segment is not None
            members.append(SegmentMembership(latest.segment, result.run[0].created_at))
    members.sort(key=lambda m: m.since or END_OF_TIME)
    return tuple(members)


def _state_for_contact(contact: Contact, streams: StreamSet | None) -> ContactState:
    """From the contact record; `streams` (None: none may be read) adds missing starts and reasons."""
    block_event = unsubscribe_event = None
    segments: tuple[SegmentMembership, ...] | None = tuple(SegmentMembership(s, None) for s in contact.segments)
    worked_out = streams is not None
    try:
        if streams is not None and contact.blocked:
            block_event = _latest_opener(BLOCK, streams)
        if streams is not None and contact.unsubscribed:
            unsubscribe_event = _latest_opener(SUBSCRIPTION, streams)
        if streams is not None and contact.segments:
            segments = _segments_for_contact(contact, streams)
    except InventError as exc:
        logger.info("Contact state of %s from the contact only: %s", contact.id, type(exc).__name__)
        worked_out = False
    blocked_since = unsubscribed_since = None
    reason = feedback = ""
    if contact.blocked:
        blocked_since = contact.blocked_at or (block_event.created_at if block_event else None)
    if contact.unsubscribed:
        unsubscribed_since = contact.unsubscribed_at or (unsubscribe_event.created_at if unsubscribe_event else None)
        event = unsubscribe_event
        reason = contact.unsubscribe_reason or (event.metadata_text("reason") if event else "")
        feedback = contact.unsubscribe_feedback or (event.metadata_text("feedback") if event else "")
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
        worked_out=worked_out,
    )


def _state_without_contact(streams: StreamSet) -> ContactState:
    blocked, unsubscribed = _state_from_events(BLOCK, streams), _state_from_events(SUBSCRIPTION, streams)
    block_event = blocked.run[0] if blocked.state == "open" else None
    unsubscribe_event = unsubscribed.run[0] if unsubscribed.state == "open" else None
    return ContactState(
        blocked=None if blocked.state == "unknown" else blocked.state == "open",
        blocked_since=block_event.created_at if block_event else None,
        block_event=block_event,
        unsubscribed=None if unsubscribed.state == "unknown" else unsubscribed.state == "open",
        unsubscribed_since=unsubscribe_event.created_at if unsubscribe_event else None,
        unsubscribe_event=unsubscribe_event,
        unsubscribe_reason=unsubscribe_event.metadata_text("reason") if unsubscribe_event else "",
        unsubscribe_feedback=unsubscribe_event.metadata_text("feedback") if unsubscribe_event else "",
        segments=_segments_from_events(streams),
        from_events=True,
    )


def contact_state(
    *, org_id: str, contact_id: str, contact: Contact | None, streams: StreamSet | None = None
) -> ContactState:
    """The contact's block, subscription and segments now, each with its start."""
    if not budget_allows_spans():
        streams = None
    elif streams is None:
        streams = StreamSet(org_id=org_id, contact_id=contact_id)
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
    *, org_id: str, contact_id: str, activities: Sequence[Activity], contact: Contact | None, streams: StreamSet
) -> tuple[dict[str, ActivitySpan] | None, ContactState]:
    """What a first page needs beyond its cards: their spans and the header's state, from one StreamSet."""
    spans = activity_spans(org_id=org_id, contact_id=contact_id, activities=activities, streams=streams)
    return spans, contact_state(org_id=org_id, contact_id=contact_id, contact=contact, streams=streams)


def state_from_record(contact: Contact | None) -> ContactState:
    """What the first response can say from the contact record alone, before any history is read."""
    return UNKNOWN_STATE if contact is None else _state_for_contact(contact, None)
