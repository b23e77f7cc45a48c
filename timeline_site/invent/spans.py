"""How long each paired event's state lasted, read as deep as needed and no deeper.

The events on a page are paired (pairing.py) with what the type-filtered streams
of their kinds hold (streams.py). A first page read from the top already holds
every event newer than its last card, so a pair complete on the page costs no
read at all; only what is missing is read, newest first, and reading stops as
soon as every event in question can be told (bounded by StreamSet's pages).

Spans are an extra: a failed or over-budget read costs the spans, never the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings

from timeline_site.invent.budget import budget_used
from timeline_site.invent.errors import InventError
from timeline_site.invent.kinds import PAIRS, Pair
from timeline_site.invent.pairing import ActivitySpan, keyed_events, spans_of
from timeline_site.invent.streams import StreamSet
from timeline_site.invent.types import Activity

logger = logging.getLogger(__name__)

# Spans are optional: once this share of the shared upstream budget is used,
# they step aside so that timelines keep their calls.
BUDGET_SHARE = 0.8


def budget_allows_spans() -> bool:
    limit = settings.INVENT_BUDGET_PER_MINUTE
    return limit <= 0 or budget_used() < limit * BUDGET_SHARE


def streams_for_page(
    *, org_id: str, contact_id: str, activities: Sequence[Activity], types: Sequence[str], from_top: bool,
    complete: bool,
) -> StreamSet:  # fmt: skip
    """The streams a page's spans read. A page read from the top (the first page) seeds them with what it
    holds: every activity of its types newer than its last card, or all of them when it is the whole timeline."""
    streams = StreamSet(org_id=org_id, contact_id=contact_id)
    if from_top:
        wanted = [t for pair in PAIRS for t in (pair.opener, pair.closer) if not types or t in types]
        down_to = None if complete else (activities[-1].created_at if activities else None)
        if complete or activities:
            streams.seed(activities, types=wanted, down_to=down_to)
    return streams


def _pair_types(pair: Pair) -> tuple[str, str]:
    return (pair.opener, pair.closer)


def _events(pair: Pair, streams: StreamSet) -> list[Activity]:
    return [*streams[pair.opener].items, *streams[pair.closer].items]


def pair_spans(pair: Pair, keyed: dict[str, list[Activity]], streams: StreamSet) -> dict[str, ActivitySpan]:
    """Spans for `keyed` events of `pair`, reading deeper only while some of them cannot be told."""
    oldest: datetime = min(a.created_at for events in keyed.values() for a in events)
    streams.read_below(_pair_types(pair), oldest)
    while True:
        spans, pending = spans_of(pair, keyed, _events(pair, streams), streams.horizon(_pair_types(pair)))
        if not pending or not streams.deepen(_pair_types(pair)):
            return spans


def activity_spans(
    *, org_id: str, contact_id: str, activities: Sequence[Activity], streams: StreamSet | None = None
) -> dict[str, ActivitySpan] | None:
    """Spans of the paired events among `activities`, by activity id; None when they step aside
    (the shared budget is low, or Invent failed). Events missing from the result have nothing
    reliable to say (no other half on record, or it lies beyond the read bound)."""
    wanted = {pair: keyed for pair in PAIRS if (keyed := keyed_events(activities, pair))}
    if not wanted:
        return {}
    if not budget_allows_spans():
        return None
    streams = streams or StreamSet(org_id=org_id, contact_id=contact_id)
    spans: dict[str, ActivitySpan] = {}
    try:
        # The first page of every stream involved, in one round rather than one per pair (a stream
        # seeded from the page holds it already).
        streams.read_next(
            s for pair in wanted for t in _pair_types(pair) if not (s := streams[t]).seeded and s.pages_read == 0
        )
        for pair, keyed in wanted.items():
            spans.update(pair_spans(pair, keyed, streams))
    except InventError as exc:
        logger.info("No state spans for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return None
    shown = {a.id for a in activities}
    return {ident: span for ident, span in spans.items() if ident in shown}
