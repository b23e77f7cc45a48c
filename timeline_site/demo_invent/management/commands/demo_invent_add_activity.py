from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from timeline_site.demo_invent.app import ACTIVITY_TYPES
from timeline_site.demo_invent.management.commands._lookup import get_contact
from timeline_site.demo_invent.seed import add_activities


class Command(BaseCommand):
    help = "Add activities created now to a demo contact and print their ids (newest last)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--contact", required=True)
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--type", choices=sorted(ACTIVITY_TYPES), default="note_created")

    def handle(self, *args: Any, **options: Any) -> None:
        contact = get_contact(options["org"], options["contact"])
        for activity in add_activities(contact, count=options["count"], activity_type=options["type"]):
            self.stdout.write(activity.activity_id)
