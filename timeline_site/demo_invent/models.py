"""Storage for the demo Invent.

Served JSON is kept in `data` exactly as it should go over the wire (explicit
nulls and deliberately missing keys included), so hostile and malformed upstream
payloads can be reproduced. Only what the API filters or sorts on is a column.
"""

from __future__ import annotations

from django.db import models


class DemoOrg(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    def __str__(self) -> str:
        return self.id


class Behaviour(models.TextChoices):
    NORMAL = "", "normal"
    SLOW = "slow", "slow"
    FLAKY = "flaky", "flaky"
    RATE_LIMITED = "rate_limited", "rate limited"
    DOWN = "down", "down"


class DemoContact(models.Model):
    org = models.ForeignKey(DemoOrg, on_delete=models.CASCADE, related_name="contacts")
    contact_id = models.CharField(max_length=64)
    # The documented contact object minus `id` (served as `contact_id`).
    data = models.JSONField(default=dict)
    behaviour = models.CharField(max_length=16, choices=Behaviour.choices, default=Behaviour.NORMAL, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "contact_id"], name="demo_contact_unique_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.org_id}/{self.contact_id}"


class DemoActivity(models.Model):
    contact = models.ForeignKey(DemoContact, on_delete=models.CASCADE, related_name="activities")
    activity_id = models.CharField(max_length=64)
    type = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    # actor, assistant, segment, broadcast, note, file, metadata as served. May also
    # override `created_at` or list top-level keys to drop in `_omit`, so the demo can
    # serve malformed items while still sorting them by a real timestamp.
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "activity_id"], name="demo_activity_unique_per_contact"),
        ]
        indexes = [
            models.Index(fields=["contact", "-created_at", "-activity_id"], name="demo_act_timeline"),
            models.Index(fields=["contact", "type", "-created_at", "-activity_id"], name="demo_act_timeline_type"),
        ]

    def __str__(self) -> str:
        return self.activity_id
