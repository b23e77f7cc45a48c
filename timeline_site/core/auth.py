"""Sign-in rules on top of Django's model backend, and the throttle on failed sign-ins."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import caches
from django.core.exceptions import ValidationError

DEMO_USERNAME = "demo"
# Printed by `make run`; the account only works while the embedded demo is the upstream.
DEMO_PASSWORD = "demo"  # noqa: S105


class DashboardBackend(ModelBackend):
    """The demo account signs in only while the embedded demo Invent is the upstream,
    and an existing demo session stops working as soon as a real Invent is configured
    (ModelBackend.get_user asks user_can_authenticate on every request)."""

    def user_can_authenticate(self, user: Any) -> bool:
        if user.get_username() == DEMO_USERNAME and not settings.DEMO_INVENT_ENABLED:
            return False
        return super().user_can_authenticate(user)


# --- Throttling failed sign-ins -------------------------------------------
# Counted per (user name, client address) in the "counters" cache: shared by every
# process and host with Redis, and never evicted by the page cache filling up.
MAX_FAILED_SIGN_INS = 5
FAILED_SIGN_IN_WINDOW = 15 * 60
COUNTERS_CACHE = "counters"
THROTTLED_MESSAGE = "Too many failed sign-ins. Wait 15 minutes, then try again."


def normalised_username(username: str) -> str:
    # Django's sign-in form applies NFKC before the password is checked, so "throttled"
    # typed with a fullwidth t (U+FF54) is "throttled"; case-folded too, so no spelling
    # gets a count of its own.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold()).strip()


def _throttle_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{normalised_username(username)}|{address}".encode()).hexdigest()[:32]
    return f"signin-attempts:{digest}"


def count_sign_in_attempt(username: str, address: str) -> int:
    """Counts one attempt and returns the attempts so far in the window, this one included.

    Increment first, compare after: concurrent attempts each get a count of their own
    (incr is atomic in Redis and in LocMem), so no more than MAX_FAILED_SIGN_INS of
    them ever reach the password check."""
    store = caches[COUNTERS_CACHE]
    key = _throttle_key(username, address)
    store.add(key, 0, timeout=FAILED_SIGN_IN_WINDOW)
    try:
        count = store.incr(key)
    except ValueError:  # expired between add and incr
        store.add(key, 0, timeout=FAILED_SIGN_IN_WINDOW)
        count = store.incr(key)
    if count == 1:
        # Redis's INCR on a key that expired just after Django's existence check creates
        # it without a lifetime, which would lock the name out for good: give it one.
        store.touch(key, FAILED_SIGN_IN_WINDOW)
    return count


def clear_sign_in_attempts(username: str, address: str) -> None:
    caches[COUNTERS_CACHE].delete(_throttle_key(username, address))


def throttled_clean(form: AuthenticationForm, clean: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run the form's own clean (the password check) only while the attempt count allows it."""
    username = str(form.data.get("username", ""))
    address = form.request.META.get("REMOTE_ADDR", "") if form.request else ""
    if count_sign_in_attempt(username, address) > MAX_FAILED_SIGN_INS:
        raise ValidationError(THROTTLED_MESSAGE, code="throttled")
    cleaned = clean()  # a wrong password raises, and the attempt stays counted
    if form.get_user() is not None:
        # Only a checked password resets the count: a post with the password left
        # out passes clean() with field errors and must not wipe it.
        clear_sign_in_attempts(username, address)
    return cleaned


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing to check passwords after too many failures."""

    def clean(self) -> dict[str, Any]:
        return throttled_clean(self, super().clean)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form with the same throttle (and the same count)."""

    def clean(self) -> dict[str, Any]:
        return throttled_clean(self, super().clean)
