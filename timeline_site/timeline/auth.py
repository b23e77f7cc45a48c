"""Sign-in rules on top of Django's model backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

DEMO_USERNAME = "demo"
# Printed by `make run`; the account only works while the embedded demo is the upstream.
DEMO_PASSWORD = "demo"  # noqa: S105


class DashboardBackend(ModelBackend):
    """The demo account signs in only while the embedded demo Invent is the upstream,
    and an existing demo session stops working as soon as a real Invent is configured."""

    def user_can_authenticate(self, user: Any) -> bool:
        if user.get_username() == DEMO_USERNAME and not settings.DEMO_INVENT_ENABLED:
            return False
        return super().user_can_authenticate(user)

    def get_user(self, user_id: Any) -> Any:
        user = super().get_user(user_id)
        if user is not None and not self.user_can_authenticate(user):
            return None
        return user
