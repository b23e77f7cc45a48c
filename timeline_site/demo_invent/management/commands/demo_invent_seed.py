from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from timeline_site.demo_invent.models import DemoActivity, DemoContact
from timeline_site.demo_invent.seed import seed_demo


class Command(BaseCommand):
    help = "Delete and recreate the demo Invent's orgs, contacts and activities (deterministic)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        seed_demo()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded demo Invent: {DemoContact.objects.count()} contacts, "
                f"{DemoActivity.objects.count()} activities in {elapsed:.2f} s"
            )
        )
