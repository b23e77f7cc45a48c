"""New since your last visit: from the audit trail, where the reader's previous look at a contact ends.

The previous visit is the latest "view" row of the audit trail for this user and contact as it
was *before* this request recorded anything (audit.record_reading keeps one row per user and
contact per few minutes), so a second look a minute after the first still finds the first. On
the newest page, the newest activity at or before it gets a divider ("Your last visit: yesterday
16:20") and the header says how many came since. When the divider falls below the first page,
the page carries it in a <template> that static/js/timeline.js places once that card arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from django.http import HttpRequest
from django.utils import timezone

from timeline_site.timeline.display import Entry, clock_time, day_label
from timeline_site.timeline.models import TimelineView


def previous_visit(request: HttpRequest, *, org_id: str, contact_id: str) -> datetime | None:
    """When this user last opened this contact's timeline (call it before recording this visit)."""
    if not request.user.is_authenticated:
        return None
    visits = TimelineView.objects.filter(
        user=request.user, org_id=org_id, contact_id=contact_id, action=TimelineView.Action.VIEW
    )
    return visits.order_by("-viewed_at").values_list("viewed_at", flat=True).first()


@dataclass(frozen=True, slots=True)
class SinceLastVisit:
    count: int  # activities on the page newer than the last visit
    more: bool  # ... and the page ends before reaching it: at least that many
    label: str  # "Your last visit: yesterday 16:20"
    at: datetime

    @property
    def when(self) -> str:
        """ "yesterday 16:20" """
        return self.label.removeprefix("Your last visit: ")


def visit_label(moment: datetime, *, tz: tzinfo, now: datetime) -> str:
    local = moment.astimezone(tz)
    day = day_label(local.date(), now.astimezone(tz).date())
    if day in {"Today", "Yesterday"}:
        day = day.lower()
    return f"Your last visit: {day} {clock_time(local)}"


def mark_last_visit(
    entries: Sequence[Entry], visited: datetime | None, *, more_below: bool, tz: tzinfo, now: datetime
) -> tuple[list[Entry], SinceLastVisit | None]:
    """The newest page's cards with the divider on the newest one the reader had seen, and the count."""
    marked = list(entries)
    if visited is None:
        return marked, None
    new = sum(1 for e in entries if e.activity.created_at > visited)
    label = visit_label(visited, tz=tz, now=now)
    seen = next((i for i, e in enumerate(entries) if e.activity.created_at <= visited), None)
    if seen is not None and new:
        marked[seen] = replace(marked[seen], last_visit=label)
    return marked, SinceLastVisit(count=new, more=seen is None and more_below, label=label, at=visited)


def since_last_visit(
    request: HttpRequest, *, org_id: str, contact_id: str, entries: Sequence[Entry], more_below: bool
) -> dict[str, object]:
    """The newest page's context for "new since your last visit": its cards (one with the divider) and `since`."""
    visited = previous_visit(request, org_id=org_id, contact_id=contact_id)
    marked, since = mark_last_visit(
        entries, visited, more_below=more_below, tz=timezone.get_current_timezone(), now=timezone.now()
    )
    return {"entries": marked, "since": since}
