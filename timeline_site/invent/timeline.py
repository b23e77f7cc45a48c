"""The timeline service: pages of a contact's activities, newest first, from a cursor.

Anything not strictly older than the cursor's anchor is dropped, short pages
are filled from the following upstream page, and if deletions upstream pulled
the activities we owe onto earlier pages (the count went down) we step back.
Several types are several streams (Invent filters on one type at a time),
merged newest first. See cursor.py for why the cursor looks the way it does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from timeline_site.invent.contacts import contact_or_none
from timeline_site.invent.cursor import MAX_SEEN_IDS, Cursor, seen_digest
from timeline_site.invent.kinds import KNOWN_ACTIVITY_TYPES
from timeline_site.invent.streams import Stream, parallel_map, run_in_background
from timeline_site.invent.types import Activity, Contact

logger = logging.getLogger(__name__)

MAX_UPSTREAM_PAGES_PER_STREAM = 4  # per dashboard page: bounded work, the cursor resumes the rest
MAX_STEPS_BACK = 3  # upstream pages stepped back at most after deletions


@dataclass(frozen=True, slots=True)
class TimelinePage:
    activities: tuple[Activity, ...]
    next_cursor: Cursor | None  # None: this is the end of the timeline
    total: int | None  # activities matching the filter upstream, when Invent said
    offset: int  # activities shown before this page
    skipped: int = 0  # upstream items that could not be read
    stale: bool = False  # served from an older copy because Invent failed


def stream_types(types: Sequence[str]) -> tuple[str | None, ...]:
    """The upstream streams for a filter: one unfiltered stream, or one per type."""
    wanted = sorted(set(types))
    if not wanted or set(wanted) >= set(KNOWN_ACTIVITY_TYPES):
        return (None,)
    return tuple(wanted)


def _read_from_cursor(stream: Stream, *, known_count: int | None, cursor: Cursor | None, need: int) -> Stream:
    """Read `stream` from its next page until it holds `need` activities after the cursor, or ends."""
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
        if stream.exhausted or sum(1 for a, _ in stream.read if cursor is None or cursor.admits(a)) >= need:
            break
    return stream


def timeline_page(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), cursor: Cursor | None = None
) -> TimelinePage:
    """Up to TIMELINE_PAGE_SIZE activities strictly older than the cursor (the newest, without one)."""
    size = settings.TIMELINE_PAGE_SIZE
    streams = stream_types(types)
    if cursor is not None and len(cursor.pages) != len(streams):
        # A cursor made for another filter: start every stream at the top; the anchor still holds.
        cursor = Cursor(before=cursor.before, seen=cursor.seen, pages=(1,) * len(streams), shown=cursor.shown)
    start_pages = cursor.pages if cursor is not None else (1,) * len(streams)
    counts = cursor.counts if cursor is not None and len(cursor.counts) == len(streams) else (None,) * len(streams)
    readers = [
        Stream(org_id, contact_id, activity_type, take=size, next_page=start, max_pages=MAX_UPSTREAM_PAGES_PER_STREAM)
        for activity_type, start in zip(streams, start_pages, strict=True)
    ]
    parallel_map(
        lambda index: (
            _read_from_cursor(readers[index], known_count=counts[index], cursor=cursor, need=size)
            if not readers[index].exhausted
            else readers[index]
        ),
        range(len(readers)),
    )
    return _merge(readers, counts=counts, cursor=cursor, size=size)


def _merge(readers: list[Stream], *, counts: Sequence[int | None], cursor: Cursor | None, size: int) -> TimelinePage:
    # One stream keeps Invent's own order for ties (the sort is stable); several streams
    # break ties by id, as Invent's unfiltered feed does.
    merged = [
        (activity, index, page)
        for index, reader in enumerate(readers)
        for activity, page in reader.read
        if cursor is None or cursor.admits(activity)
    ]
    if len(readers) > 1:
        merged.sort(key=lambda entry: entry[0].sort_key, reverse=True)
    else:
        merged.sort(key=lambda entry: entry[0].created_at, reverse=True)
    shown: list[Activity] = []
    shown_ids: set[str] = set()
    resume: list[int | None] = [None] * len(readers)  # per stream: the page of its first activity not shown
    for activity, index, page in merged:
        if len(shown) >= size:
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
    return TimelinePage(
        activities=tuple(shown),
        next_cursor=_next_cursor(shown, cursor, next_pages, next_counts, offset),
        total=sum(t for t in next_counts if t is not None) if None not in next_counts else None,
        offset=offset,
        skipped=sum(r.skipped for r in readers),
        stale=any(r.stale for r in readers),
    )


def _next_cursor(
    shown: list[Activity], cursor: Cursor | None, pages: tuple[int, ...], counts: tuple[int | None, ...], offset: int
) -> Cursor | None:
    if not any(pages):
        return None
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
    *, org_id: str, contact_id: str, types: Sequence[str], cursor: Cursor | None
) -> tuple[TimelinePage, Contact | None]:
    """A full page's one upstream round: the timeline page (its failure is the page's) and the
    contact record (its failure only loses the header's details), read at once."""
    if not settings.INVENT_PARALLEL_FETCH:
        return (
            timeline_page(org_id=org_id, contact_id=contact_id, types=types, cursor=cursor),
            contact_or_none(org_id=org_id, contact_id=contact_id),
        )
    contact = run_in_background(lambda: contact_or_none(org_id=org_id, contact_id=contact_id))
    page = timeline_page(org_id=org_id, contact_id=contact_id, types=types, cursor=cursor)
    return page, contact.result()
