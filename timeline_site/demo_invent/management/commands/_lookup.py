"""Shared by the demo Invent commands (the leading underscore hides it from `manage.py help`)."""

from __future__ import annotations

from django.core.management.base import CommandError

from timeline_site.demo_invent.models import DemoContact


def get_contact(org_id: str, contact_id: str) -> DemoContact:
    contact = DemoContact.objects.filter(org_id=org_id, contact_id=contact_id).first()
    if contact is None:
        raise CommandError(f"No demo contact {org_id}/{contact_id} (run demo_invent_seed first?)")
    return contact
