"""The one reader of Invent's activity pages.

A stream is one contact's activities newest first, all of them or one type
(Invent filters on one `type` at a time). The timeline pages through streams
from a cursor; the state spans and the contact state read the type streams of
paired kinds from the top. All of them read pages here, through the page cache
(cache.py), whose misses go to the client (client.py): data flows down, records
come back up.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from timeline_site.invent.cache import OnStale, StaleCopy, cached_activity_page
from timeline_site.invent.client import MAX_TAKE, get_client, upstream_ms
from timeline_site.invent.types import Activity, ActivityPage

END_OF_TIME = datetime.max.replace(tzinfo=UTC)

# One pool per process for reading several streams at once. Reused threads keep
# their cache (Redis) connection instead of opening one each time.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="invent-fetch")


def parallel_map[T, R](function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`function` over `items`, results in order: on the shared pool when INVENT_PARALLEL_FETCH
    allows, each task in a copy of the request's context (its upstream allowance included).
    The request is charged the upstream time of its slowest item, as that is what it waited for."""
    if len(items) < 2 or not settings.INVENT_PARALLEL_FETCH:
        return [function(item) for item in items]

    def timed(item: T) -> tuple[R, float]:
        upstream_ms.set(0.0)
        return function(item), upstream_ms.get()

    futures = [_POOL.submit(contextvars.copy_context().run, timed, item) for item in items]
    outcomes = [future.result() for future in futures]
    upstream_ms.set(upstream_ms.get() + max(ms for _, ms in outcomes))
    return [result for result, _ in outcomes]


def run_in_background[R](function: Callable[[], R]) -> Future[R]:
    """Start a leaf read (one that never fans out itself) on the shared pool. Pool tasks never
    wait on other pool tasks, so the pool cannot deadlock."""

    def fresh_timing() -> R:
        upstream_ms.set(0.0)
        return function()

    return _POOL.submit(contextvars.copy_context().run, fresh_timing)


def fetch_activity_page(
    *, org_id: str, contact_id: str, activity_type: str | None, page: int, take: int,
    fresh_seconds: int | None = None, refresh: bool = False, on_stale: OnStale = None,
) -> tuple[ActivityPage, bool]:  # fmt: skip
    """One upstream page through the cache; the bool says whether it is a stale copy.
    `fresh_seconds`, `refresh` and `on_stale`: see cache.cached_upstream."""
    return cached_activity_page(
        org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=page, take=take,
        fetch=lambda: get_client().list_activities(
            org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=page, take=take
        ),
        fresh_seconds=fresh_seconds, refresh=refresh, on_stale=on_stale,
    )  # fmt: skip


@dataclass
class Stream:
    """One stream, read page by page from `next_page`, keeping what it read."""

    org_id: str
    contact_id: str
    activity_type: str | None
    take: int = MAX_TAKE
    next_page: int = 1  # 0 once the last page was read
    max_pages: int = 3  # pages this reader may read in one request
    read: list[tuple[Activity, int]] = field(default_factory=list)  # (activity, upstream page), no repeats
    ids: set[str] = field(default_factory=set)
    pages_read: int = 0
    total: int | None = None  # pagination-count of the last page read
    skipped: int = 0  # unreadable items in the pages read
    stale: bool = False  # some page came from a stale copy
    stale_copy: StaleCopy | None = None  # the oldest of them: since when, and whether Invent was busy
    seeded: bool = False  # holds what a page read from the top held (StreamSet.seed)
    known_down_to: datetime | None = None  # ... which was every activity of this type newer than this

    @property
    def exhausted(self) -> bool:
        return self.next_page == 0

    @property
    def can_read(self) -> bool:
        return not self.exhausted and self.pages_read < self.max_pages

    @property
    def items(self) -> list[Activity]:
        return [activity for activity, _page in self.read]

    @property
    def horizon(self) -> datetime | None:
        """Every activity of this stream strictly newer than this was read; None: every one was."""
        if self.exhausted:
            return None
        lowest = min((a.created_at for a, _ in self.read), default=END_OF_TIME)
        return lowest if self.known_down_to is None else min(lowest, self.known_down_to)

    def read_page(self) -> ActivityPage:
        """Read the next page: its new activities are kept, and the next page advances."""
        page = self.next_page
        upstream = self.fetch(page)
        self.accept(upstream, page=page)
        return upstream

    def fetch(self, page: int, *, refresh: bool = False) -> ActivityPage:
        """Read `page` without keeping its activities yet (the caller may find it must step back).
        `refresh`: not from a cached copy (one older than a page already read, see invent/newer.py)."""
        upstream, stale = fetch_activity_page(
            org_id=self.org_id, contact_id=self.contact_id, activity_type=self.activity_type, page=page,
            take=self.take, refresh=refresh, on_stale=self._note_stale,
        )  # fmt: skip
        self.pages_read += 1
        self.total, self.stale, self.skipped = upstream.total, self.stale or stale, self.skipped + upstream.skipped
        return upstream

    def _note_stale(self, copy: StaleCopy) -> None:
        if self.stale_copy is None or copy.fetched_at < self.stale_copy.fetched_at:
            self.stale_copy = copy

    def accept(self, upstream: ActivityPage, *, page: int) -> None:
        self.add(upstream.items, page=page)
        self.next_page = page + 1 if upstream.has_more else 0

    def add(self, activities: Iterable[Activity], *, page: int) -> None:
        for activity in activities:
            if activity.id not in self.ids:  # the live feed shifted between two pages
                self.ids.add(activity.id)
                self.read.append((activity, page))


class StreamSet:
    """The type streams one request reads for its spans and the contact state, shared between them
    so that no page is read twice."""

    def __init__(self, *, org_id: str, contact_id: str, max_pages: int = 3) -> None:
        self.org_id = org_id
        self.contact_id = contact_id
        self.max_pages = max_pages
        self._streams: dict[str, Stream] = {}

    def __getitem__(self, activity_type: str) -> Stream:
        if activity_type not in self._streams:
            self._streams[activity_type] = Stream(self.org_id, self.contact_id, activity_type, max_pages=self.max_pages)
        return self._streams[activity_type]

    def read_next(self, streams: Iterable[Stream]) -> bool:
        """One more page of each of `streams` that may still be read, in one round; False when none could."""
        todo = [s for s in streams if s.can_read]
        if not todo:
            return False
        parallel_map(lambda stream: stream.read_page(), todo)
        return True

    def seed(self, activities: Iterable[Activity], *, types: Iterable[str], down_to: datetime | None) -> None:
        """What a page read from the top already holds: every activity of `types` strictly newer than
        `down_to` (None: every one of them at all, the page was the whole timeline)."""
        for activity_type in types:
            stream = self[activity_type]
            stream.add((a for a in activities if a.type == activity_type), page=0)
            stream.seeded, stream.known_down_to = True, down_to
            if down_to is None:
                stream.next_page = 0

    def horizon(self, types: Iterable[str]) -> datetime | None:
        """Every activity of `types` strictly newer than this was read; None: every one was."""
        horizons = [h for t in types if (h := self[t].horizon) is not None]
        return max(horizons, default=None)

    def read_below(self, types: Sequence[str], moment: datetime) -> None:
        """Read the streams of `types` until each holds an activity strictly older than `moment` (or ends)."""
        while True:
            behind = [s for t in types if (h := (s := self[t]).horizon) is not None and h >= moment]
            if not self.read_next(behind):
                return

    def deepen(self, types: Sequence[str]) -> bool:
        """One more page of whichever stream of `types` limits what is known; False when none can be read."""
        candidates = [s for t in types if (s := self[t]).can_read]
        if not candidates:
            return False
        limiting = max(candidates, key=lambda s: s.horizon or END_OF_TIME)
        return self.read_next([limiting])
