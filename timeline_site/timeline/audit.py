"""The audit trail: who read or exported which contact's timeline, and when (read-only in the admin)."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from timeline_site.invent.types import Contact
from timeline_site.timeline.models import TimelineView

# One row per user and contact within this window is enough to say who read what, and keeps
# a scroll, a filter change or a reload from writing a row each.
READING_WINDOW = timedelta(minutes=5)


def record_reading(request: HttpRequest, *, org_id: str, contact_id: str, contact: Contact | None) -> None:
    """Record that the signed-in user was shown a page of this contact's timeline (whatever the headers)."""
    if not request.user.is_authenticated:
        return
    name = (contact.display_name if contact else "")[:200]
    # A page appended by a scroll knows no name to add: once this window's row is known to this cache (it
    # was written, or found), there is nothing to ask the database until the window ends (a page with the
    # contact's name still asks, to fill the name in on a row written without it).
    noted = f"timeline-reading:{request.user.pk}:{org_id}:{contact_id}"
    if not name and cache.get(noted):
        return
    recent = TimelineView.objects.filter(
        user=request.user, org_id=org_id, contact_id=contact_id, action=TimelineView.Action.VIEW,
        viewed_at__gte=timezone.now() - READING_WINDOW,
    )  # fmt: skip
    window_began = recent.order_by("-viewed_at").values_list("viewed_at", flat=True).first()
    if window_began is not None:
        if name:
            recent.filter(contact_name="").update(contact_name=name)
    else:
        window_began = TimelineView.objects.create(
            user=request.user,
            org_id=org_id,
            contact_id=contact_id,
            contact_name=name,
            ip_address=request.META.get("REMOTE_ADDR") or None,
        ).viewed_at
    if (left := (window_began + READING_WINDOW - timezone.now()).total_seconds()) > 0:
        cache.set(noted, True, left)


def record_export(request: HttpRequest, *, org_id: str, contact_id: str) -> None:
    """Record that the signed-in user took a copy of this contact's timeline: every export, each its own row
    (a copy leaves the dashboard, unlike a scroll or a reload)."""
    if not request.user.is_authenticated:
        return
    TimelineView.objects.create(
        user=request.user,
        org_id=org_id,
        contact_id=contact_id,
        action=TimelineView.Action.EXPORT,
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )


def known_name(*, org_id: str, contact_id: str) -> str:
    """The contact's name as the latest reading of its timeline recorded it (by anyone allowed to read
    it: the caller has checked this org's access), for a page that must be drawn before Invent answers."""
    names = TimelineView.objects.filter(org_id=org_id, contact_id=contact_id).exclude(contact_name="")
    return names.order_by("-viewed_at").values_list("contact_name", flat=True).first() or ""
