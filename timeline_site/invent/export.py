"""A contact's whole timeline, newest first, read page by page while it is written out (an export).

It walks the timeline service's own pages (timeline.py) with the same signed
cursor the "Older activities" link carries, 100 activities a page (Invent's
largest), so each activity comes once even when the feed grows meanwhile: the
cursor's anchor admits only what is strictly older than what was handed out.

A streamed body is read after the view has returned, outside the request's
upstream allowance, so the export reads in a context of its own with an
allowance sized for a whole timeline (TIMELINE_EXPORT_MAX_CALLS), still charged
to its user's share of the budget. Before each page it looks at the shared
budget: once most of the minute is used it pauses, so that other staff's pages
come first, rather than failing them or itself. What cannot go on (the budget
stays spent, Invent keeps failing after the client's retries) ends the export
with the reason, for the writer to put in its last line.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from timeline_site.invent.budget import budget_used, current_allowance, request_allowance, user_prefix
from timeline_site.invent.client import MAX_TAKE
from timeline_site.invent.cursor import Cursor
from timeline_site.invent.errors import InventAllowanceSpent, InventError, InventRateLimited
from timeline_site.invent.timeline import TimelinePage, timeline_page
from timeline_site.invent.types import Activity

logger = logging.getLogger(__name__)

EXPORT_TAKE = MAX_TAKE  # activities per upstream page: fewest calls
PAUSE_AT_SHARE = 0.8  # of the shared budget (or the user's share) used: the export waits, others' pages first
MAX_PAUSE_SECONDS = 60.0  # waiting in a row, between two pages; then it gives up and says so
PAUSE_STEP_SECONDS = 0.5
RATE_LIMITED_WAIT_SECONDS = 5.0  # when Invent says 429 without Retry-After

# Both indirections let tests run the pauses without waiting.
sleep = time.sleep
monotonic = time.monotonic


class _Stop(Exception):
    """The export cannot go on; the message says why, in words for staff."""


@dataclass
class ExportProgress:
    """How far an export got; read by the writer once the activities run out."""

    count: int = 0  # activities handed out
    skipped: int = 0  # items Invent sent that could not be read (they are not in the export)
    stale: bool = False  # some page was an older copy, served because Invent failed
    paused_seconds: float = 0.0
    stopped: str = ""  # why the export could not finish; "" when it did (or is still going)

    @property
    def complete(self) -> bool:
        return not self.stopped


def budget_low(user_key: str) -> bool:
    """Most of the minute is used: of the shared budget (other staff's pages come first), or of this
    user's share (their own pages, while the export runs, come first)."""
    shared: int = settings.INVENT_BUDGET_PER_MINUTE
    if shared > 0 and budget_used() >= shared * PAUSE_AT_SHARE:
        return True
    own: int = settings.INVENT_BUDGET_PER_USER_PER_MINUTE
    return own > 0 and budget_used(prefix=user_prefix(user_key)) >= own * PAUSE_AT_SHARE


@dataclass
class TimelineExport:
    """Iterate for the activities, newest first; `progress` says afterwards whether that was all of them."""

    org_id: str
    contact_id: str
    types: Sequence[str]
    actors: Collection[str]
    first: TimelinePage
    user_key: str
    progress: ExportProgress = field(default_factory=ExportProgress)

    def __iter__(self) -> Iterator[Activity]:
        # The request's context (and its allowance) is gone by the time a streamed body is read:
        # every read runs in this context, whose allowance is entered and left in it.
        context = contextvars.copy_context()
        allowance = request_allowance(user_key=self.user_key, max_calls=settings.TIMELINE_EXPORT_MAX_CALLS)
        context.run(allowance.__enter__)
        try:
            yield from self._activities(context)
        finally:
            context.run(allowance.__exit__, None, None, None)

    def _activities(self, context: contextvars.Context) -> Iterator[Activity]:
        page = self.first
        last_at: datetime | None = None
        ids_at_last: set[str] = set()  # only those of the latest time handed out: memory stays flat
        while True:
            self.progress.skipped += page.skipped
            self.progress.stale = self.progress.stale or page.stale
            for activity in page.activities:
                if last_at is not None and (
                    activity.created_at > last_at or (activity.created_at == last_at and activity.id in ids_at_last)
                ):
                    continue  # handed out already (the cursor sees to it; this makes sure)
                if activity.created_at != last_at:
                    last_at, ids_at_last = activity.created_at, set()
                ids_at_last.add(activity.id)
                self.progress.count += 1
                yield activity
            if page.next_cursor is None:
                return
            try:
                page = context.run(self._read, page.next_cursor)
            except _Stop as stop:
                self.progress.stopped = str(stop)
                logger.warning(
                    "Export of %s/%s stopped after %d activities: %s",
                    self.org_id, self.contact_id, self.progress.count, stop,
                )  # fmt: skip
                return

    def _read(self, cursor: Cursor) -> TimelinePage:
        """The next page, pausing while the shared budget is nearly spent or Invent says "not now"."""
        started = monotonic()
        while True:
            waited = monotonic() - started
            if budget_low(self.user_key):
                if waited >= MAX_PAUSE_SECONDS:
                    raise _Stop(
                        f"Invent's request budget stayed nearly used up for {MAX_PAUSE_SECONDS:g} seconds, "
                        "and the pages people are reading come first"
                    )
                self._pause(PAUSE_STEP_SECONDS)
                continue
            try:
                return timeline_page(
                    org_id=self.org_id, contact_id=self.contact_id, types=self.types, actors=self.actors,
                    cursor=cursor, size=EXPORT_TAKE,
                )  # fmt: skip
            except InventAllowanceSpent as exc:
                if exc.retry_after is None:  # the export's own cap on calls, not a budget
                    raise _Stop(
                        f"the export reached its limit of {settings.TIMELINE_EXPORT_MAX_CALLS} calls to Invent."
                    ) from None
                self._wait_or_stop(exc, waited)
            except InventRateLimited as exc:
                self._wait_or_stop(exc, waited)
            except InventError as exc:
                raise _Stop(exc.message) from None

    def _wait_or_stop(self, error: InventRateLimited, waited: float) -> None:
        wait = float(error.retry_after or RATE_LIMITED_WAIT_SECONDS)
        if waited + wait > MAX_PAUSE_SECONDS:
            raise _Stop(error.message) from None
        self._pause(wait)

    def _pause(self, seconds: float) -> None:
        sleep(seconds)
        self.progress.paused_seconds += seconds


def start_export(
    *, org_id: str, contact_id: str, types: Sequence[str] = (), actors: Collection[str] = ()
) -> TimelineExport:
    """An export of the contact's timeline (of `types`, by `actors`; empty: all). Its first page is read
    here, so that a contact Invent does not know, or Invent failing outright, is an error to show
    before anything is sent; the rest is read as the export is iterated."""
    first = timeline_page(
        org_id=org_id, contact_id=contact_id, types=types, actors=actors, cursor=None, size=EXPORT_TAKE
    )
    allowance = current_allowance()
    user_key = allowance.user_key if allowance is not None else "export"
    return TimelineExport(org_id, contact_id, tuple(types), tuple(actors), first, user_key)
