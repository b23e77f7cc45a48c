"""The timeline service: pages of a contact's activities, newest first.

Invent pages by number over a live, newest-first feed, so page N shifts while
someone scrolls: new activities push items onto later pages (duplicates) and
deletions pull them onto earlier ones (gaps). Each dashboard page therefore
carries a cursor: the time of the last activity shown, the ids already shown
at that exact time (Invent's tie order is undocumented), and per upstream
stream the page to continue from. Anything not strictly older than the anchor
is dropped, short pages are filled from the following upstream page, and if
the continuation page already starts below the anchor we step back.

Invent filters on one `type` at a time, so several types are several streams,
merged newest first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from timeline_site.invent.client import get_client, upstream_ms
from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES, Activity, ActivityPage

logger = logging.getLogger(__name__)

MAX_UPSTREAM_PAGES_PER_STREAM = 4  # per dashboard page: bounded work, the cursor resumes the rest
MAX_STEPS_BACK = 3  # upstream pages stepped back at most after deletions
MAX_SEEN_IDS = 100


# One pool per process for fetching several upstream streams at once. Reused
# threads keep their cache (Redis) connection instead of opening one each time.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="invent-fetch")


def parallel_map[T, R](function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`function` over `items`, results in order: on the shared pool when
    INVENT_PARALLEL_FETCH allows (the in-process demo needs the request's own
    database connection, so there it runs in turn). The request is charged the
    upstream time of its slowest item, as that is what it waited for."""
    if len(items) < 2 or not settings.INVENT_PARALLEL_FETCH:
        return [function(item) for item in items]

    def timed(item: T) -> tuple[R, float]:
        upstream_ms.set(0.0)  # pool threads keep their context from one task to the next
        return function(item), upstream_ms.get()

    outcomes = list(_POOL.map(timed, items))
    upstream_ms.set(upstream_ms.get() + max(ms for _, ms in outcomes))
    return [result for result, _ in outcomes]


def run_in_background[R](function: Callable[[], R]) -> Future[R]:
    """Start a leaf read (one that never fans out itself) on the shared pool. Pool
    tasks never wait on other pool tasks, so the pool cannot deadlock."""

    def fresh_context() -> R:
        upstream_ms.set(0.0)
        return function()

    return _POOL.submit(fresh_context)


SEEN_DIGEST_LENGTH = 12


def seen_digest(activity_id: str) -> str:
    """A short, URL-safe stand-in for an upstream id in the cursor: ids are opaque and
    may be long, and a run of same-second activities must still fit in one URL."""
    return hashlib.blake2b(activity_id.encode(), digest_size=SEEN_DIGEST_LENGTH // 2).hexdigest()


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next dashboard page starts. Round-trips through the URL."""

    before: datetime  # created_at of the last activity shown
    seen: tuple[str, ...]  # short digests (seen_digest) of the ids already shown whose created_at == before
    pages: tuple[int, ...]  # per stream: upstream page to continue from (0: stream exhausted)
    counts: tuple[int | None, ...] = ()  # per stream: pagination-count when the cursor was made
    shown: int = 0  # activities shown so far (for aria-posinset)

    def admits(self, activity: Activity) -> bool:
        """True when `activity` comes after everything already shown."""
        if activity.created_at < self.before:
            return True
        return activity.created_at == self.before and seen_digest(activity.id) not in self.seen


@dataclass(frozen=True, slots=True)
class TimelinePage:
    activities: tuple[Activity, ...]
    next_cursor: Cursor | None  # None: this is the end of the timeline
    total: int | None  # activities matching the filter upstream, when Invent said
    offset: int  # activities shown before this page
    skipped: int = 0  # malformed upstream items dropped
    stale: bool = False  # served from an older copy because Invent failed


def stream_types(types: Sequence[str]) -> tuple[str | None, ...]:
    """The upstream streams for a filter: one unfiltered stream, or one per type."""
    wanted = sorted(set(types))
    if not wanted or set(wanted) >= set(KNOWN_ACTIVITY_TYPES):
        return (None,)
    return tuple(wanted)


@dataclass
class _StreamRead:
    buffered: list[tuple[Activity, int]] = field(default_factory=list)  # (activity, upstream page)
    next_page: int = 0  # the page after the last one read; 0 when the stream is exhausted
    total: int | None = None
    skipped: int = 0
    stale: bool = False


def fetch_activity_page(
    *, org_id: str, contact_id: str, activity_type: str | None, page: int, take: int
) -> tuple[ActivityPage, bool]:
    """One upstream page; the bool says whether it is a stale copy. Caching lives here."""
    from timeline_site.invent.cache import cached_activity_page

    return cached_activity_page(
        org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=page, take=take,
        fetch=lambda: get_client().list_activities(
            org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=page, take=take
        ),
    )  # fmt: skip


def _read_stream(
    *, org_id: str, contact_id: str, activity_type: str | None, start_page: int, known_count: int | None,
    cursor: Cursor | None, need: int,
) -> _StreamRead:  # fmt: skip
    take = settings.TIMELINE_PAGE_SIZE
    read = _StreamRead()
    page = start_page
    stepped_back = False
    pages_read = 0
    while pages_read < MAX_UPSTREAM_PAGES_PER_STREAM:
        upstream, stale = fetch_activity_page(
            org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=page, take=take
        )
        pages_read += 1
        read.total, read.stale = upstream.total, read.stale or stale
        read.skipped += upstream.skipped
        deleted = (known_count or 0) - (upstream.total if upstream.total is not None else known_count or 0)
        if not stepped_back and deleted > 0 and page > 1:
            # Deletions upstream pulled older items onto earlier pages: the ones
            # we owe may now sit before `page`. Re-read from there; the cursor
            # drops whatever was already shown.
            stepped_back = True
            page = max(1, page - min(MAX_STEPS_BACK, -(-deleted // take)))
            continue
        fresh = [a for a in upstream.items if cursor is None or cursor.admits(a)]
        read.buffered.extend((activity, page) for activity in fresh)
        if not upstream.has_more:
            read.next_page = 0
            return read
        page += 1
        read.next_page = page
        if len(read.buffered) >= need:
            return read
    return read


def timeline_page(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), cursor: Cursor | None = None
) -> TimelinePage:
    """A page of the contact's timeline: up to TIMELINE_PAGE_SIZE activities strictly older than the cursor."""
    size = settings.TIMELINE_PAGE_SIZE
    streams = stream_types(types)
    if cursor is not None and len(cursor.pages) != len(streams):
        # A cursor from another filter: start every stream at the top; the anchor still holds.
        cursor = Cursor(before=cursor.before, seen=cursor.seen, pages=(1,) * len(streams), shown=cursor.shown)
    start_pages = cursor.pages if cursor is not None else (1,) * len(streams)
    counts = cursor.counts if cursor is not None and len(cursor.counts) == len(streams) else (None,) * len(streams)

    def read(index: int) -> _StreamRead:
        if start_pages[index] == 0:
            return _StreamRead()
        return _read_stream(
            org_id=org_id, contact_id=contact_id, activity_type=streams[index],
            start_page=start_pages[index], known_count=counts[index], cursor=cursor, need=size,
        )  # fmt: skip

    reads = parallel_map(read, range(len(streams)))

    # Merge newest first. One stream keeps Invent's own order for ties (the
    # sort is stable); several streams break ties by id, as Invent's unfiltered
    # feed does.
    merged: list[tuple[Activity, int, int]] = [
        (activity, index, page) for index, r in enumerate(reads) for activity, page in r.buffered
    ]
    if len(reads) > 1:
        merged.sort(key=lambda entry: entry[0].sort_key, reverse=True)
    else:
        merged.sort(key=lambda entry: entry[0].created_at, reverse=True)
    shown: list[Activity] = []
    shown_ids: set[str] = set()
    consumed = [0] * len(streams)
    for activity, index, _page in merged:
        if len(shown) >= size:
            break
        consumed[index] += 1
        if activity.id in shown_ids:
            continue  # the same activity twice in one read (the feed shifted under us)
        shown_ids.add(activity.id)
        shown.append(activity)

    next_pages: list[int] = []
    for r, used in zip(reads, consumed, strict=True):
        if used < len(r.buffered):
            next_pages.append(r.buffered[used][1])  # resume at the first activity not shown
        else:
            next_pages.append(r.next_page)
    offset = cursor.shown if cursor is not None else 0
    next_counts = tuple(r.total if r.total is not None else c for r, c in zip(reads, counts, strict=True))
    next_cursor = None
    if not shown and cursor is not None and any(next_pages):
        # Everything read was already shown (the feed grew by more than we read): keep going.
        next_cursor = Cursor(cursor.before, cursor.seen, tuple(next_pages), next_counts, cursor.shown)
    elif shown and any(next_pages):
        last_time = shown[-1].created_at
        seen_at_last = [seen_digest(a.id) for a in shown if a.created_at == last_time]
        if cursor is not None and cursor.before == last_time:
            seen_at_last = [*cursor.seen, *seen_at_last]
        next_cursor = Cursor(
            before=last_time,
            seen=tuple(seen_at_last[-MAX_SEEN_IDS:]),
            pages=tuple(next_pages),
            counts=next_counts,
            shown=offset + len(shown),
        )
    return TimelinePage(
        activities=tuple(shown),
        next_cursor=next_cursor,
        total=sum(t for t in next_counts if t is not None) if None not in next_counts else None,
        offset=offset,
        skipped=sum(r.skipped for r in reads),
        stale=any(r.stale for r in reads),
    )
