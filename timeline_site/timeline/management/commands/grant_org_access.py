"""Grant (or revoke) a staff user's access to one Invent organisation."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from timeline_site.invent.client import is_valid_path_part
from timeline_site.timeline.models import OrgAccess


class Command(BaseCommand):
    help = "Let USERNAME read the timelines of Invent org ORG_ID (--revoke takes it back; --list shows grants)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("org_ids", nargs="*", metavar="ORG_ID")
        parser.add_argument("--name", default="", help="display name of the org")
        parser.add_argument("--revoke", action="store_true")
        parser.add_argument("--list", action="store_true")

    def handle(self, *args: Any, username: str, org_ids: list[str], name: str, revoke: bool, list: bool,
               **options: Any) -> None:  # fmt: skip
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        for org_id in org_ids:
            if not is_valid_path_part(org_id):
                raise CommandError(f"{org_id!r} is not a valid Invent org id (letters, digits, - and _).")
            if revoke:
                deleted, _ = OrgAccess.objects.filter(user=user, org_id=org_id).delete()
                self.stdout.write(f"{'Revoked' if deleted else 'Had no'} access to {org_id} for {username}.")
            else:
                OrgAccess.objects.update_or_create(user=user, org_id=org_id, defaults={"org_name": name})
                self.stdout.write(f"Granted access to {org_id} for {username}.")
        if list or not org_ids:
            grants = OrgAccess.objects.filter(user=user).values_list("org_id", flat=True)
            self.stdout.write(f"{username} may read: {', '.join(grants) or 'no organisation'}"
                              + (" (superuser: every organisation)" if user.is_superuser else ""))  # fmt: skip
