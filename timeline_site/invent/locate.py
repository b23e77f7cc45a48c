"""Finding a place in a long timeline: the page that starts at a moment, in a bounded number of reads.

A permalink carries its activity's time (and id), "Go to date" a day; either way the page to
open starts with the newest activity at or before a moment, older ones below it as usual and
newer ones above (newer.py). Invent pages by number, newest first, and says how many there
are (pagination-count), so the page holding that moment is found by bisecting page numbers on
the activities' times: page 1 (which gives the count), about log2(pages) more, and at most one
more for a full page of cards below the moment. Nothing in between is read: 5,200 activities
(104 pages of 50) take at most 1 + 7 + 2 reads.

Several types are several streams (timeline.py): each one is bisected on its own, at once,
and the page is their merge from each one's place, read and merged exactly as an "Older
activities" page is (it *is* one: a paging cursor whose anchor is the moment). A filter whose
streams would need more than MAX_LOCATE_READS reads in all is not located: the newest page
opens and says so.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from timeline_site.invent.budget import current_allowance, request_allowance
from timeline_site.invent.contacts import with_contact
from timeline_site.invent.cursor import Cursor, NewerCursor
from timeline_site.invent.errors import InventAllowanceSpent
from timeline_site.invent.newer import anchor_at, top_cursor
from timeline_site.invent.streams import Stream, parallel_map
from timeline_site.invent.timeline import (
    MAX_FILTERED_PAGES,
    MAX_UPSTREAM_PAGES_PER_STREAM,
    TimelinePage,
    _merge,
    _read_from_cursor,
    actor_filter,
    stream_types,
    timeline_page,
)
from timeline_site.invent.types import Activity, ActivityPage, Contact

# Upstream page reads one located page may make, all its streams together (a request's own cap
# is for ordinary pages; a located page opens an allowance of this size for itself).
MAX_LOCATE_READS = 30


@dataclass(frozen=True, slots=True)
class Place:
    """Where the reader asked to open the timeline."""

    moment: datetime  # the page starts with the newest activity at or before this
    entry_id: str | None = None  # the activity a permalink is to


@dataclass(frozen=True, slots=True)
class LocatedPage:
    page: TimelinePage  # starts at the place; its offset is how many activities are newer
    cursor: Cursor | None  # the paging cursor the page was read with (its spans are asked with it); None: newest
    newer: NewerCursor  # what is above the page (at_top: what the live check compares with)
    at_top: bool  # nothing is newer than the page
    located: bool  # False: the place could not be found within the bound, and this is the newest page
    entry_found: bool  # the entry is on the page
    reads: int = 0  # upstream pages read to locate and fill it (cache hits included)


@dataclass
class _MemoStream(Stream):
    """A stream that reads each page at most once in a request, whatever the cache does."""

    memo: dict[int, ActivityPage] = field(default_factory=dict)
    reads: int = 0

    def fetch(self, page: int, *, refresh: bool = False) -> ActivityPage:
        if not refresh and page in self.memo:
            return self.memo[page]
        self.reads += 1
        upstream = super().fetch(page, refresh=refresh)
        self.memo[page] = upstream
        return upstream


@dataclass(frozen=True, slots=True)
class _Spot:
    """Where a moment falls in one stream."""

    page: int  # the page holding its first activity at or before the moment
    newer: int  # activities of the stream newer than the moment (the index of that first one)
    total: int | None  # pagination-count then


def _first_at_or_before(items: Sequence[Activity], moment: datetime) -> int | None:
    return next((i for i, a in enumerate(items) if a.created_at <= moment), None)


def _pages(upstream: ActivityPage, take: int) -> int | None:
    return None if upstream.total is None else max(1, math.ceil(upstream.total / take))


def bisect_cost(first: ActivityPage, moment: datetime, take: int) -> int:
    """Reads still needed to place `moment` in a stream whose page 1 is `first`, at most."""
    if _first_at_or_before(first.items, moment) is not None or not first.has_more:
        return 0
    pages = _pages(first, take) or 2**20  # no count: galloping, bounded by the request's allowance
    return math.ceil(math.log2(max(pages - 1, 1))) + 1


def _spot(stream: _MemoStream, moment: datetime) -> _Spot:
    """Bisect `stream`'s page numbers for the page holding its first activity at or before `moment`."""
    take = stream.take
    first = stream.fetch(1)
    index = _first_at_or_before(first.items, moment)
    if index is not None or not first.has_more:
        return _Spot(1, index if index is not None else len(first.items), first.total)
    lo, hi = 2, _pages(first, take)
    if hi is None:  # no count: double until a page reaches the moment or the end
        hi = 2
        while (probe := stream.fetch(hi)).has_more and _first_at_or_before(probe.items, moment) is None:
            lo, hi = hi + 1, hi * 2
    hi = max(lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        upstream = stream.fetch(mid)
        index = _first_at_or_before(upstream.items, moment)
        if index is None and upstream.items and upstream.has_more:
            lo = mid + 1  # all newer than the moment: it is further down
        elif index is None and upstream.items:  # the last page, and all of it newer: nothing is at or before
            return _Spot(mid, (mid - 1) * take + len(upstream.items), upstream.total)
        elif index is None:
            hi = max(lo, mid - 1)  # past the end: the feed shrank since page 1 was read
        elif index > 0:
            return _Spot(mid, (mid - 1) * take + index, upstream.total)
        else:
            hi = mid  # starts at or before the moment: the first such activity is here or above
    upstream = stream.fetch(lo)
    index = _first_at_or_before(upstream.items, moment)
    return _Spot(lo, (lo - 1) * take + (index if index is not None else len(upstream.items)), upstream.total)


def locate_page(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = (), place: Place
) -> LocatedPage:
    """The page that starts with the newest activity at or before `place.moment`, or the newest page
    (located=False) when the filter's streams cannot be bisected within MAX_LOCATE_READS."""
    allowance = current_allowance()
    budget = (
        request_allowance(user_key=allowance.user_key, max_calls=MAX_LOCATE_READS)
        if allowance is not None
        else contextlib.nullcontext()
    )
    try:
        with budget:
            located = _locate(org_id=org_id, contact_id=contact_id, types=types, actors=actors, place=place)
    except InventAllowanceSpent:
        located = None
    if located is not None:
        return located
    page = timeline_page(org_id=org_id, contact_id=contact_id, types=types, actors=actors)
    return LocatedPage(
        page=page, cursor=None, newer=top_cursor(page, types=types), at_top=True, located=False,
        entry_found=any(a.id == place.entry_id for a in page.activities),
    )  # fmt: skip


def _locate(
    *, org_id: str, contact_id: str, types: Sequence[str], actors: Collection[str], place: Place
) -> LocatedPage | None:
    size = settings.TIMELINE_PAGE_SIZE
    wanted_actors = actor_filter(actors)
    streams = [_MemoStream(org_id, contact_id, t, take=size) for t in stream_types(types)]
    firsts = parallel_map(lambda s: s.fetch(1), streams)
    per_stream = [bisect_cost(first, place.moment, size) + 1 for first in firsts]  # +1: the page after it
    if len(streams) + sum(per_stream) > MAX_LOCATE_READS:
        return None
    spots = parallel_map(lambda s: _spot(s, place.moment), streams)
    cursor = Cursor(
        before=place.moment, seen=(), pages=tuple(s.page for s in spots), counts=tuple(s.total for s in spots),
        shown=sum(s.newer for s in spots),
    )  # fmt: skip
    max_pages = MAX_UPSTREAM_PAGES_PER_STREAM
    if wanted_actors is not None:
        max_pages = max(1, min(max_pages, MAX_FILTERED_PAGES // len(streams)))
    for stream, spot in zip(streams, spots, strict=True):
        stream.next_page, stream.pages_read, stream.max_pages = spot.page, 0, max_pages
    parallel_map(
        lambda i: _read_from_cursor(streams[i], known_count=spots[i].total, cursor=cursor, need=size,
                                    actors=wanted_actors),
        range(len(streams)),
    )  # fmt: skip
    page = _merge(list(streams), counts=cursor.counts, cursor=cursor, size=size, actors=wanted_actors)
    positions = tuple(s.newer for s in spots)
    newer = anchor_at(page.activities, positions=positions, counts=cursor.counts, top=page.offset + 1,
                      fallback=place.moment)  # fmt: skip
    return LocatedPage(
        page=page, cursor=cursor, newer=newer, at_top=not any(positions), located=True,
        entry_found=any(a.id == place.entry_id for a in page.activities), reads=sum(s.reads for s in streams),
    )  # fmt: skip


def located_view(
    *, org_id: str, contact_id: str, types: Sequence[str], actors: Collection[str] = (), place: Place
) -> tuple[LocatedPage, Contact | None]:
    """A located full page's first round: the page at the place, and the contact record, read at once."""
    return with_contact(
        lambda: locate_page(org_id=org_id, contact_id=contact_id, types=types, actors=actors, place=place),
        org_id=org_id, contact_id=contact_id,
    )  # fmt: skip
