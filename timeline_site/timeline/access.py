"""Who may read which organisation's timelines."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from timeline_site.timeline.models import OrgAccess


def allowed_org_ids(user: AbstractBaseUser | AnonymousUser) -> list[str] | None:
    """The org IDs `user` may read; None means every org (superusers)."""
    if not user.is_authenticated or not user.is_active:
        return []
    if getattr(user, "is_superuser", False):
        return None
    return list(OrgAccess.objects.filter(user_id=user.pk).values_list("org_id", flat=True))


def can_view_org(user: AbstractBaseUser | AnonymousUser, org_id: str) -> bool:
    """Read from the database on every request (every scroll too), so a revoked grant
    takes effect at once."""
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return OrgAccess.objects.filter(user_id=user.pk, org_id=org_id).exists()
