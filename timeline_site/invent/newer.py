"""Newer activities: the page above what is shown, and whether anything newer has arrived.

Above a permalink's page (or a date's) the reader scrolls up into newer activity; on the
newest page, new activity arrives while they read. Both are "what is newer than the top
card shown", read with a NewerCursor (cursor.py): the top card's time and same-time ids, and
per stream how many of its activities were newer then and the count seen then.

Invent pages by number over a live, newest-first feed. The activities just above the anchor
are found by starting where they were (moved down by as many as the count grew: a live feed
grows at the top) and reading *down* to the anchor, so that growth meanwhile only repeats
activities (dropped by the anchor and by id), never skips them. The pages of one pass must
agree on the count: one that says fewer than another is a copy cached before the growth (or
shows deletions) and is read again, fresh, once. A page is at most TIMELINE_PAGE_SIZE
activities, the oldest of those found, so it joins what is shown; several streams are merged
no higher than the point every stream was read up to.

The live check reads one activity per stream (take=1), cached for LIVE_CACHE_SECONDS for
everyone looking at the contact, and steps aside when the shared budget is low.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from timeline_site.invent.contacts import with_contact
from timeline_site.invent.cursor import MAX_SEEN_IDS, Cursor, NewerCursor, seen_digest
from timeline_site.invent.spans import budget_allows_spans
from timeline_site.invent.streams import Stream, fetch_activity_page, parallel_map
from timeline_site.invent.timeline import TimelinePage, actor_filter, stream_types
from timeline_site.invent.types import Activity, ActivityPage, Contact

MAX_NEWER_PAGES_PER_STREAM = 5  # page reads per stream for one page above, refreshes and steps up included
MAX_STEPS_UP = 2  # pages looked higher when the anchor moved up (deletions above it)
LIVE_CACHE_SECONDS = 25  # one newest-activity read per stream serves every viewer of the contact this long
NO_ANCHOR = datetime(1970, 1, 1, tzinfo=UTC)  # above an empty page: everything is newer


@dataclass(frozen=True, slots=True)
class NewerPage:
    activities: tuple[Activity, ...]  # newest first, all newer than the cursor's anchor
    newer: NewerCursor  # this page's top: the next page above starts here
    at_top: bool  # nothing newer is left: this page reaches the newest activity
    older: Cursor | None  # what comes below this page, when it is shown on a page of its own (no JavaScript)
    offset: int  # activities above this page (for aria-posinset)
    lost: bool = False  # too much changed to join a page to what is shown: open the newest page instead
    skipped: int = 0  # upstream items that could not be read
    stale: bool = False  # some page came from an older copy because Invent failed
    total: int | None = None  # activities matching the filter now, when Invent said (and no actor filter)


@dataclass(frozen=True, slots=True)
class LiveNews:
    count: int  # activities newer than the top card shown (at least: deletions hide some)
    exact: bool  # False under an actor filter: counted before it, as Invent cannot filter on actors
    cursor: NewerCursor  # reads them: the top's cursor, with where they are now


def anchor_at(
    activities: Sequence[Activity], *, positions: tuple[int, ...], counts: tuple[int | None, ...], top: int,
    empty: NewerCursor | None = None, fallback: datetime = NO_ANCHOR,
) -> NewerCursor:  # fmt: skip
    """The cursor above `activities` (newest first): anchored at the first. Without any, `empty`'s
    anchor (what was above before), or `fallback`."""
    if not activities:
        after, seen = (empty.after, empty.seen) if empty is not None else (fallback, ())
        return NewerCursor(after=after, seen=seen, positions=positions, counts=counts, top=top)
    after = activities[0].created_at
    same_time = [seen_digest(a.id) for a in activities if a.created_at == after]
    if empty is not None and empty.after == after:
        same_time = [*empty.seen, *same_time]
    return NewerCursor(after=after, seen=tuple(same_time[-MAX_SEEN_IDS:]), positions=positions, counts=counts, top=top)


def top_cursor(page: TimelinePage, *, types: Sequence[str]) -> NewerCursor:
    """The newest page's cursor upwards: what the live check compares with, and reads new activity from."""
    streams = stream_types(types)
    if page.next_cursor is not None and len(page.next_cursor.counts) == len(streams):
        counts = page.next_cursor.counts
    elif len(streams) == 1:
        counts = (page.total,)
    else:  # the whole timeline is on this page: each stream's count is what it holds of it
        counts = tuple(sum(1 for a in page.activities if a.type == t) for t in streams)
    return anchor_at(page.activities, positions=(0,) * len(streams), counts=counts, top=page.offset + 1)


# --- The page above -------------------------------------------------------------------------


@dataclass
class _Run:
    """What one stream holds just above the anchor."""

    stream: Stream
    items: list[tuple[Activity, int]] = field(default_factory=list)  # newest first, with the index in the stream
    boundary: int = 0  # the anchor's index: how many activities of the stream are newer than it
    complete: bool = False  # the run starts at the stream's newest activity
    joined: bool = False  # the run reaches down to the anchor


@dataclass
class _Pass:
    """One stream's reads for one page above: pages that disagree on the count are read again, fresh."""

    stream: Stream
    highest: int | None  # the highest count seen (or known) so far
    refreshed: set[int] = field(default_factory=set)

    def fetch(self, page: int) -> ActivityPage:
        upstream = self.stream.fetch(page)
        if (upstream.total is not None and self.highest is not None and upstream.total < self.highest
                and page not in self.refreshed):  # fmt: skip
            # Fewer than a page already seen: most likely a copy cached before activities were added
            # (it would hide some of them). Read it fresh; what it says then is the truth.
            self.refreshed.add(page)
            upstream = self.stream.fetch(page, refresh=True)
            self.highest = upstream.total
        elif upstream.total is not None:
            self.highest = max(self.highest or 0, upstream.total)
        return upstream

    @property
    def spent(self) -> bool:
        return self.stream.pages_read >= MAX_NEWER_PAGES_PER_STREAM


def _starts_below(upstream: ActivityPage, cursor: NewerCursor) -> bool:
    return not upstream.items or not cursor.admits(upstream.items[0])


def _read_up_to(stream: Stream, cursor: NewerCursor, *, position: int, known_count: int | None, need: int) -> _Run:
    """The activities of `stream` just above the cursor's anchor: up to about `need`, read down to it."""
    take = stream.take
    reads = _Pass(stream, known_count)
    page = max(0, position - need) // take + 1
    upstream = reads.fetch(page)
    if upstream.total is not None and known_count is not None and upstream.total > known_count:
        moved = max(0, position + upstream.total - known_count - need) // take + 1
        if moved != page:  # growth at the top pushed the anchor (and what is just above it) down
            page, upstream = moved, reads.fetch(moved)
    steps = 0
    while page > 1 and _starts_below(upstream, cursor) and steps < MAX_STEPS_UP and not reads.spent:
        page, steps = page - 1, steps + 1  # the anchor moved up (deletions above it): look higher
        upstream = reads.fetch(page)
    run = _Run(stream, complete=page == 1)
    if page > 1 and _starts_below(upstream, cursor):
        return run  # not joined: nothing read here is known to sit right above the anchor
    ids: set[str] = set()
    while True:
        base = (page - 1) * take
        for index, activity in enumerate(upstream.items):
            if not cursor.admits(activity):
                run.boundary, run.joined = base + index, True
                return run
            if activity.id not in ids:  # the feed shifted between two pages
                ids.add(activity.id)
                run.items.append((activity, base + index))
        if not upstream.has_more:
            run.boundary, run.joined = base + len(upstream.items), True
            return run
        if reads.spent:
            return run
        page += 1
        upstream = reads.fetch(page)


def newer_page(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = (), cursor: NewerCursor
) -> NewerPage:
    """Up to TIMELINE_PAGE_SIZE activities right above the cursor's anchor (of `types`, by `actors`)."""
    size = settings.TIMELINE_PAGE_SIZE
    streams = stream_types(types)
    positions, counts = cursor.positions, cursor.counts
    if len(positions) != len(streams):  # a cursor made for another filter: look down from each stream's top
        positions, counts = (0,) * len(streams), (None,) * len(streams)
    readers = [Stream(org_id, contact_id, t, take=size) for t in streams]
    runs = parallel_map(
        lambda i: _read_up_to(readers[i], cursor, position=positions[i], known_count=counts[i], need=size),
        range(len(readers)),
    )
    return _page_above(runs, cursor=cursor, counts=counts, size=size, actors=actor_filter(actors))


def newer_view(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = (), cursor: NewerCursor
) -> tuple[NewerPage, Contact | None]:
    """The page above as a page of its own (a "Newer activities" link without JavaScript): it and the
    contact record, read at once."""
    return with_contact(
        lambda: newer_page(org_id=org_id, contact_id=contact_id, types=types, actors=actors, cursor=cursor),
        org_id=org_id, contact_id=contact_id,
    )  # fmt: skip


def _page_above(
    runs: list[_Run], *, cursor: NewerCursor, counts: tuple[int | None, ...], size: int,
    actors: frozenset[str] | None,
) -> NewerPage:  # fmt: skip
    skipped, stale = sum(r.stream.skipped for r in runs), any(r.stream.stale for r in runs)
    if not all(r.joined for r in runs):
        return _lost(cursor, skipped=skipped, stale=stale)
    # A stream not read up to its newest activity may have unread ones just above the newest it read:
    # nothing newer than that may be shown yet (it would come before them).
    limits = [r.items[0][0].created_at if r.items else cursor.after for r in runs if not r.complete]
    cutoff = min(limits, default=None)
    found = [
        (activity, index, stream)
        for stream, run in enumerate(runs)
        for activity, index in run.items
        if cutoff is None or activity.created_at <= cutoff
    ]
    if len(runs) == 1:
        found.reverse()  # one stream: Invent's own order, oldest first
    else:
        found.sort(key=lambda entry: entry[0].sort_key)  # several: ties broken by id, as Invent's feed does
    chosen = found[:size]  # the oldest: they join what is shown
    at_top = all(r.complete for r in runs) and len(chosen) == len(found)
    if not chosen and not at_top:
        return _lost(cursor, skipped=skipped, stale=stale)
    considered = [activity for activity, _index, _stream in reversed(chosen)]  # newest first
    shown = tuple(a for a in considered if actors is None or a.actor_kind in actors)
    newest_index = {stream: index for _activity, index, stream in chosen}  # ascending: the last is the newest
    positions = tuple(newest_index.get(s, run.boundary) for s, run in enumerate(runs))
    counts = tuple(r.stream.total if r.stream.total is not None else c for r, c in zip(runs, counts, strict=True))
    offset = 0 if at_top else max(0, cursor.top - 1 - len(shown))
    # Under an actor filter the next page above starts above what was passed over, not only what is shown.
    newer = anchor_at(considered, positions=positions, counts=counts, top=offset + 1, empty=cursor)
    return NewerPage(
        activities=shown, newer=newer, at_top=at_top, older=_older_below(chosen, runs, offset + len(shown)),
        offset=offset, skipped=skipped, stale=stale,
        total=sum(c for c in counts if c is not None) if None not in counts and actors is None else None,
    )  # fmt: skip


def _older_below(chosen: list[tuple[Activity, int, int]], runs: list[_Run], shown: int) -> Cursor | None:
    """The paging cursor below a page above, for showing it on a page of its own: from the anchor down."""
    if not chosen:
        return None
    bottom = chosen[0][0].created_at
    seen = tuple(seen_digest(a.id) for a, _index, _stream in chosen if a.created_at == bottom)[-MAX_SEEN_IDS:]
    pages = tuple(run.boundary // run.stream.take + 1 for run in runs)
    return Cursor(before=bottom, seen=seen, pages=pages, counts=tuple(r.stream.total for r in runs), shown=shown)


def _lost(cursor: NewerCursor, *, skipped: int, stale: bool) -> NewerPage:
    return NewerPage(activities=(), newer=cursor, at_top=False, older=None, offset=0, lost=True, skipped=skipped,
                     stale=stale)  # fmt: skip


# --- Anything new? ---------------------------------------------------------------------------


def live_news(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = (), cursor: NewerCursor
) -> LiveNews | None:
    """How many activities are newer than the cursor's anchor (the top card of the newest page), from
    one small read per stream shared by everyone looking at the contact; None when the shared
    budget is low (the page stops asking)."""
    if not budget_allows_spans():
        return None
    streams = stream_types(types)
    known = cursor.counts if len(cursor.counts) == len(streams) else (None,) * len(streams)

    def newest(activity_type: str | None) -> ActivityPage:
        page, _stale = fetch_activity_page(
            org_id=org_id, contact_id=contact_id, activity_type=activity_type, page=1, take=1,
            fresh_seconds=LIVE_CACHE_SECONDS,
        )  # fmt: skip
        return page

    heads = parallel_map(newest, streams)
    added: list[int] = []
    for head, count in zip(heads, known, strict=True):
        if not head.items or not cursor.admits(head.items[0]):
            added.append(0)
        elif head.total is not None and count is not None:
            added.append(max(1, head.total - count))
        else:
            added.append(1)
    totals = tuple(h.total if h.total is not None else c for h, c in zip(heads, known, strict=True))
    reader = NewerCursor(after=cursor.after, seen=cursor.seen, positions=tuple(added), counts=totals, top=cursor.top)
    return LiveNews(count=sum(added), exact=actor_filter(actors) is None, cursor=reader)
