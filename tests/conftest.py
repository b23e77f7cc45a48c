from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

# Playwright runs an event loop in the test thread; Django's ORM refuses to
# run inside one unless told it is safe (it is: the loop is idle meanwhile).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session", autouse=True)
def _static_files() -> None:
    """Production settings serve hashed static files from a manifest: build it once."""
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> None:
    """The embedded demo's seeded data, once per session; each test rolls back its own changes."""
    from timeline_site.demo_invent.seed import seed_demo

    with django_db_blocker.unblock():
        seed_demo()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Real hashers are slow on purpose; tests only need passwords to round-trip."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Every cache alias: pages and fragments, and the counters (sign-in throttle, budget)."""
    from timeline_site.invent import budget

    for store in caches.all(initialized_only=False):
        store.clear()
    # The budget reads the settled seconds once a second per process: a memo from the previous test
    # (same second, before the clear) would count that test's calls against this one.
    budget._settled.clear()
    yield
    for store in caches.all(initialized_only=False):
        store.clear()


@pytest.fixture
def staff_user(db: None) -> Any:
    from django.contrib.auth import get_user_model

    from timeline_site.demo_invent.seed import DEMO_CONTACTS
    from timeline_site.timeline.models import OrgAccess

    user = get_user_model().objects.create_user(username="agent", password="agent-pass-123")
    for org in {org for org, _ in DEMO_CONTACTS.values()}:
        OrgAccess.objects.create(user=user, org_id=org)
    return user


@pytest.fixture
def staff_client(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def no_upstream(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records, and fails, any call to Invent (at the one place every call goes through)."""
    from timeline_site.invent.client import InventClient

    calls: list[str] = []

    def refuse(self: InventClient, path: str, params: Any) -> Any:
        calls.append(path)
        raise AssertionError(f"unexpected upstream call to {path}")

    monkeypatch.setattr(InventClient, "_send_with_retries", refuse)
    return calls


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every contact search a view asks Invent for (the call still goes to the demo)."""
    from timeline_site.invent.client import InventClient

    calls: list[dict[str, Any]] = []
    original = InventClient.list_contacts

    def spy(self: InventClient, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(InventClient, "list_contacts", spy)
    return calls
