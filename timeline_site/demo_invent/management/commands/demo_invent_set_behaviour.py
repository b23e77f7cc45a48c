from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from timeline_site.demo_invent.management.commands._lookup import get_contact
from timeline_site.demo_invent.models import Behaviour

# "normal" stands for the empty value, which is awkward to pass on a command line.
CHOICES = {"normal": Behaviour.NORMAL, **{b.value: b for b in Behaviour if b.value}}


class Command(BaseCommand):
    help = "Make a demo contact slow, flaky, rate limited or down (or normal again); a running server sees it at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--contact", required=True)
        parser.add_argument("behaviour", choices=sorted(CHOICES))

    def handle(self, *args: Any, **options: Any) -> None:
        contact = get_contact(options["org"], options["contact"])
        contact.behaviour = CHOICES[options["behaviour"]]
        contact.save(update_fields=["behaviour"])
        self.stdout.write(f"{contact}: {options['behaviour']}")
