"""The timeline service: pages of a contact's activities, newest first, from a cursor.

Anything not strictly older than the cursor's anchor is dropped, short pages
are filled from the following upstream page, and if deletions upstream pulled
the activities we owe onto earlier pages (the count went down) we step back.
Several types are several streams (Invent filters on one type at a time),
merged newest first. See cursor.py for why the cursor looks the way it does.

Invent cannot filter by who did it (staff, an AI assistant, the system), so an
actor filter is applied here to what is read. A rare kind could mean reading a
whole heavy timeline for one page, so the reads per request are bounded: a page
that stops at the bound says how many entries it looked through, and its cursor
continues below everything read, not only below what it showed.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from timeline_site.invent import contacts
from timeline_site.invent.cache import StaleCopy
from timeline_site.invent.client import upstream_ms
from timeline_site.invent.cursor import MAX_SEEN_IDS, Cursor, seen_digest
from timeline_site.invent.errors import InventError
from timeline_site.invent.kinds import KNOWN_ACTIVITY_TYPES
from timeline_site.invent.streams import END_OF_TIME, Stream, parallel_map
from timeline_site.invent.types import ACTOR_KINDS, Activity, Contact

logger = logging.getLogger(__name__)

MAX_UPSTREAM_PAGES_PER_STREAM = 4  # per dashboard page: bounded work, the cursor resumes the rest
MAX_STEPS_BACK = 3  # upstream pages stepped back at most after deletions
# With an actor filter, all streams together read at most this many pages per dashboard page
# (and each at most MAX_UPSTREAM_PAGES_PER_STREAM): within a request's cap on upstream calls.
MAX_FILTERED_PAGES = 8

ActorFilter = frozenset[str] | None  # None: every actor kind


@dataclass(frozen=True, slots=True)
class TimelinePage:
    activities: tuple[Activity, ...]
    next_cursor: Cursor | None  # None: this is the end of the timeline
    total: int | None  # activities matching the filter upstream, when Invent said
    offset: int  # activities shown before this page
    skipped: int = 0  # upstream items that could not be read
    stale: bool = False  # served from an older copy because Invent failed
    stale_copy: StaleCopy | None = None  # the oldest copy served: since when, and whether Invent was busy
    # With an actor filter, when the reads stopped at their bound before a page of matches was
    # found: how many entries were looked through (the cursor continues below them). None otherwise.
    scanned: int | None = None


def actor_filter(actors: Collection[str]) -> ActorFilter:
    """The actor kinds asked for, or None when that is every kind (or none was named)."""
    wanted = frozenset(actors) & frozenset(ACTOR_KINDS)
    return None if not wanted or wanted == frozenset(ACTOR_KINDS) else wanted


def _wanted(activity: Activity, cursor: Cursor | None, actors: ActorFilter) -> bool:
    return (cursor is None or cursor.admits(activity)) and (actors is None or activity.actor_kind in actors)


def stream_types(types: Sequence[str]) -> tuple[str | None, ...]:
    """The upstream streams for a filter: one unfiltered stream, or one per type."""
    wanted = sorted(set(types))
    if not wanted or set(wanted) >= set(KNOWN_ACTIVITY_TYPES):
        return (None,)
    return tuple(wanted)


def _read_from_cursor(
    stream: Stream, *, known_count: int | None, cursor: Cursor | None, need: int, actors: ActorFilter = None
) -> Stream:
    """Read `stream` from its next page until it holds `need` wanted activities after the cursor, or ends
    (or reaches its bound of pages)."""
    stepped_back = False
    while stream.can_read:
        page = stream.next_page
        upstream = stream.fetch(page)
        deleted = (known_count or 0) - (upstream.total if upstream.total is not None else known_count or 0)
        if not stepped_back and deleted > 0 and page > 1:
            # Deletions upstream pulled older items onto earlier pages: the ones we owe may
            # now sit before `page`. Read again from there; the cursor drops what was shown.
            stepped_back = True
            stream.next_page = max(1, page - min(MAX_STEPS_BACK, -(-deleted // stream.take)))
            continue
        stream.accept(upstream, page=page)
        if stream.exhausted or _matches(stream, cursor, actors) >= need:
            break
    return stream


def _matches(stream: Stream, cursor: Cursor | None, actors: ActorFilter) -> int:
    return sum(1 for a, _ in stream.read if _wanted(a, cursor, actors))


def timeline_page(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = (),
    cursor: Cursor | None = None, size: int | None = None,
) -> TimelinePage:  # fmt: skip
    """Up to `size` (TIMELINE_PAGE_SIZE) activities strictly older than the cursor (the newest, without
    one), of `types` and done by `actors` (empty: all). A cursor is only valid with the same `size`."""
    size = size or settings.TIMELINE_PAGE_SIZE
    wanted_actors = actor_filter(actors)
    streams = stream_types(types)
    if cursor is not None and len(cursor.pages) != len(streams):
        # A cursor made for another filter: start every stream at the top; the anchor still holds.
        cursor = Cursor(before=cursor.before, seen=cursor.seen, pages=(1,) * len(streams), shown=cursor.shown)
    start_pages = cursor.pages if cursor is not None else (1,) * len(streams)
    counts = cursor.counts if cursor is not None and len(cursor.counts) == len(streams) else (None,) * len(streams)
    max_pages = MAX_UPSTREAM_PAGES_PER_STREAM
    if wanted_actors is not None:
        max_pages = max(1, min(max_pages, MAX_FILTERED_PAGES // len(streams)))
    readers = [
        Stream(org_id, contact_id, activity_type, take=size, next_page=start, max_pages=max_pages)
        for activity_type, start in zip(streams, start_pages, strict=True)
    ]
    parallel_map(
        lambda index: (
            _read_from_cursor(readers[index], known_count=counts[index], cursor=cursor, need=size,
                              actors=wanted_actors)
            if not readers[index].exhausted
            else readers[index]
        ),
        range(len(readers)),
    )  # fmt: skip
    return _merge(readers, counts=counts, cursor=cursor, size=size, actors=wanted_actors)


def _floor(readers: list[Stream], cursor: Cursor | None, size: int, actors: ActorFilter) -> datetime | None:
    """The time below which what was read may not be shown yet: a stream that stopped at its bound
    short of a page of wanted activities may hold unread ones just below the oldest it read, and
    they would belong before anything older the other streams read. None: no stream stopped short."""
    short = [r for r in readers if not r.exhausted and _matches(r, cursor, actors) < size]
    return max((min((a.created_at for a, _ in r.read), default=END_OF_TIME) for r in short), default=None)


def _merge(
    readers: list[Stream], *, counts: Sequence[int | None], cursor: Cursor | None, size: int,
    actors: ActorFilter = None,
) -> TimelinePage:  # fmt: skip
    # One stream keeps Invent's own order for ties (the sort is stable); several streams
    # break ties by id, as Invent's unfiltered feed does.
    admitted = [
        (activity, index, page)
        for index, reader in enumerate(readers)
        for activity, page in reader.read
        if cursor is None or cursor.admits(activity)
    ]
    merged = [entry for entry in admitted if actors is None or entry[0].actor_kind in actors]
    if len(readers) > 1:
        merged.sort(key=lambda entry: entry[0].sort_key, reverse=True)
    else:
        merged.sort(key=lambda entry: entry[0].created_at, reverse=True)
    floor = _floor(readers, cursor, size, actors)
    shown: list[Activity] = []
    shown_ids: set[str] = set()
    resume: list[int | None] = [None] * len(readers)  # per stream: the page of its first activity not shown
    for activity, index, page in merged:
        if len(shown) >= size or (floor is not None and activity.created_at < floor):
            if resume[index] is None:
                resume[index] = page
            continue
        if activity.id not in shown_ids:  # the same activity twice in one read (the feed shifted under us)
            shown_ids.add(activity.id)
            shown.append(activity)
    next_pages = tuple(r if r is not None else reader.next_page for r, reader in zip(resume, readers, strict=True))
    next_counts = tuple(
        reader.total if reader.total is not None else c for reader, c in zip(readers, counts, strict=True)
    )
    offset = cursor.shown if cursor is not None else 0
    # Stopped at the bound with less than a page: the next page starts below everything read.
    stopped = floor if floor is not None and len(shown) < size and any(next_pages) else None
    scanned = None
    if stopped is not None and actors is not None:
        scanned = len({a.id for a, _index, _page in admitted if a.created_at >= stopped})
    return TimelinePage(
        activities=tuple(shown),
        next_cursor=_next_cursor(shown, cursor, next_pages, next_counts, offset, stopped=stopped),
        # Invent's counts say how many of the types there are, not how many by these actors.
        total=sum(t for t in next_counts if t is not None) if None not in next_counts and actors is None else None,
        offset=offset,
        skipped=sum(r.skipped for r in readers),
        stale=any(r.stale for r in readers),
        stale_copy=min((r.stale_copy for r in readers if r.stale_copy), key=lambda c: c.fetched_at, default=None),
        scanned=scanned,
    )


def _next_cursor(
    shown: list[Activity], cursor: Cursor | None, pages: tuple[int, ...], counts: tuple[int | None, ...], offset: int,
    *, stopped: datetime | None = None,
) -> Cursor | None:  # fmt: skip
    if not any(pages):
        return None
    if stopped is not None and (cursor is None or stopped <= cursor.before):
        # Everything read down to `stopped` was looked at (what is wanted of it is shown): continue
        # from there. Unread activities at that very time are not among the ids seen, so they come.
        seen_at = [seen_digest(a.id) for a in shown if a.created_at == stopped]
        if cursor is not None and cursor.before == stopped:
            seen_at = [*cursor.seen, *seen_at]
        return Cursor(before=stopped, seen=tuple(seen_at[-MAX_SEEN_IDS:]), pages=pages, counts=counts,
                      shown=offset + len(shown))  # fmt: skip
    if not shown:
        if cursor is None:
            return None
        # Everything read was already shown (the feed grew by more than we read): keep going.
        return Cursor(cursor.before, cursor.seen, pages, counts, cursor.shown)
    last_time = shown[-1].created_at
    seen_at_last = [seen_digest(a.id) for a in shown if a.created_at == last_time]
    if cursor is not None and cursor.before == last_time:
        seen_at_last = [*cursor.seen, *seen_at_last]
    return Cursor(
        before=last_time, seen=tuple(seen_at_last[-MAX_SEEN_IDS:]), pages=pages, counts=counts,
        shown=offset + len(shown),
    )  # fmt: skip


def first_view(
    *, org_id: str, contact_id: str, types: Sequence[str], cursor: Cursor | None, actors: Collection[str] = (),
    with_contact: bool = True,
) -> tuple[TimelinePage, Contact | None]:  # fmt: skip
    """A full page's one upstream round: the timeline page (its failure is the page's) and the
    contact record (its failure only loses the header's details), read at once."""

    def read() -> TimelinePage:
        return timeline_page(org_id=org_id, contact_id=contact_id, types=types, actors=actors, cursor=cursor)

    if not with_contact:
        return read(), None
    return contacts.with_contact(read, org_id=org_id, contact_id=contact_id)


FirstView = tuple[TimelinePage, Contact | None]

# Full pages' first rounds, begun off the request's thread so that a page can send its frame while
# Invent is slow (timeline/views.py). A pool of their own: these tasks wait on the leaf reads of the
# streams' pool, which never wait on anything, so neither pool can deadlock.
_FIRST_VIEWS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="invent-first-view")


@dataclass(frozen=True, slots=True)
class PendingFirstView:
    """A first round under way. `result` waits for it (or raises its InventError, or TimeoutError)
    and charges its upstream time to the caller's Server-Timing."""

    future: Future[tuple[FirstView, float]]

    def result(self, timeout: float | None = None) -> FirstView:
        view, spent_ms = self.future.result(timeout)
        upstream_ms.set(upstream_ms.get() + spent_ms)
        return view


def _timed(read: Callable[[], FirstView]) -> tuple[FirstView, float]:
    upstream_ms.set(0.0)
    return read(), upstream_ms.get()


def start_first_view(
    *, org_id: str, contact_id: str, types: Sequence[str], cursor: Cursor | None, actors: Collection[str] = ()
) -> PendingFirstView:
    """first_view, begun at once: on a thread of its own (in a copy of the request's context, its upstream
    allowance included) when reads may leave the request's thread (INVENT_PARALLEL_FETCH); otherwise read
    here and handed back already done, so the caller never waits on it."""
    read = functools.partial(first_view, org_id=org_id, contact_id=contact_id, types=types, cursor=cursor,
                             actors=actors)  # fmt: skip
    if settings.INVENT_PARALLEL_FETCH:
        return PendingFirstView(_FIRST_VIEWS.submit(contextvars.copy_context().run, _timed, read))
    done: Future[tuple[FirstView, float]] = Future()
    try:
        done.set_result((read(), 0.0))  # read in this context: its upstream time is counted already
    except InventError as error:
        done.set_exception(error)
    return PendingFirstView(done)
