"""Prepare the embedded demo: seed data (once) and the demo staff account; print where to go."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from timeline_site.core.auth import DEMO_PASSWORD, DEMO_USERNAME
from timeline_site.demo_invent.models import DemoActivity
from timeline_site.demo_invent.seed import DEMO_CONTACTS, seed_demo
from timeline_site.timeline.models import OrgAccess


class Command(BaseCommand):
    help = "Seed the embedded demo Invent (if empty) and create the demo sign-in; --reseed starts over."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--reseed", action="store_true", help="wipe and reseed the demo data")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="printed links start with this")

    def handle(self, *args: Any, reseed: bool, base_url: str, **options: Any) -> None:
        User = get_user_model()
        if not settings.DEMO_INVENT_ENABLED:
            # The demo account must not work next to a real Invent. It is switched off, not
            # deleted: the audit trail keeps the views it made (and protects them from deletion).
            demo = User.objects.filter(username=DEMO_USERNAME, is_active=True).first()
            if demo is not None:
                demo.is_active = False
                demo.set_unusable_password()
                demo.save(update_fields=["is_active", "password"])
                self.stdout.write("Switched off the demo sign-in: INVENT_API_URL points at a real Invent.")
            return
        if reseed or not DemoActivity.objects.exists():
            seed_demo()
            self.stdout.write("Seeded the demo Invent.")
        user, created = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"first_name": "Demo"})
        if created or not user.is_active or not user.has_usable_password():
            # New, or switched off while a real Invent was configured: the demo is back.
            user.is_active = True
            user.set_password(DEMO_PASSWORD)
            user.save()
        orgs = sorted({org for org, _contact in DEMO_CONTACTS.values()})
        for org in orgs:
            OrgAccess.objects.get_or_create(user=user, org_id=org)
        self.stdout.write("")
        self.stdout.write(f"Contact Timeline on the demo Invent: {base_url}/")
        self.stdout.write(f"Sign in as {DEMO_USERNAME!r} with password {DEMO_PASSWORD!r}.")
        for kind, (org, contact) in DEMO_CONTACTS.items():
            self.stdout.write(f"  {kind:<14} {base_url}/orgs/{org}/contacts/{contact}/")
        self.stdout.write("")
