from __future__ import annotations

from django.conf import settings
from django.db import models


class OrgAccess(models.Model):
    """One Invent organisation a staff user may read. Superusers may read all."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_accesses")
    org_id = models.CharField("Invent org ID", max_length=128)
    org_name = models.CharField("display name", max_length=200, blank=True)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "organisation access"
        verbose_name_plural = "organisation access"
        constraints = [models.UniqueConstraint(fields=["user", "org_id"], name="unique_org_access")]
        ordering = ["org_id"]

    def __str__(self) -> str:
        return f"{self.user} → {self.org_id}"


class TimelineView(models.Model):
    """Audit trail: who opened or exported which contact's timeline, and when."""

    class Action(models.TextChoices):
        VIEW = "view", "viewed"
        EXPORT = "export", "exported"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="timeline_views")
    action = models.CharField(max_length=10, choices=Action, default=Action.VIEW)
    org_id = models.CharField(max_length=128)
    contact_id = models.CharField(max_length=128)
    contact_name = models.CharField(max_length=200, blank=True)
    viewed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [
            models.Index(fields=["org_id", "contact_id", "-viewed_at"]),
            models.Index(fields=["user", "-viewed_at"]),
        ]

    def __str__(self) -> str:
        verb = self.get_action_display()
        return f"{self.user} {verb} {self.org_id}/{self.contact_id} at {self.viewed_at:%Y-%m-%d %H:%M}"
