"""Sign-in rules on top of Django's model backend."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

from timeline_site.timeline.access import user_by_pk

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
        # ModelBackend.get_user, with the user read by plain SQL (see access.user_by_pk).
        user = user_by_pk(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


# --- Throttling failed sign-ins -------------------------------------------
# Counted per (user name, client address) in the shared cache, so every
# process and host sees the same count.
MAX_FAILED_SIGN_INS = 5
FAILED_SIGN_IN_WINDOW = 15 * 60


def _throttle_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}|{address}".encode()).hexdigest()[:32]
    return f"signin-failures:{digest}"


def sign_in_blocked(username: str, address: str) -> bool:
    return int(cache.get(_throttle_key(username, address), 0)) >= MAX_FAILED_SIGN_INS


def record_failed_sign_in(username: str, address: str) -> None:
    key = _throttle_key(username, address)
    if not cache.add(key, 1, timeout=FAILED_SIGN_IN_WINDOW):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=FAILED_SIGN_IN_WINDOW)


def clear_failed_sign_ins(username: str, address: str) -> None:
    cache.delete(_throttle_key(username, address))


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing to check passwords after too many failures."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Wait 15 minutes, then try again.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.data.get("username", "")
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if sign_in_blocked(username, address):
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failed_sign_in(username, address)
            raise
        clear_failed_sign_ins(username, address)
        return cleaned
