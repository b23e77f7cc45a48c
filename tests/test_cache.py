"""The page cache (timeline_site.invent.cache): keys, one call for identical misses, stale copies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.test import override_settings

from timeline_site.invent import cache as page_cache
from timeline_site.invent.cache import (
    _error_from_note,
    _failure_note,
    _key,
    _lock_seconds,
    cached_activity_page,
    cached_contact,
)
from timeline_site.invent.client import RETRY_DELAYS
from timeline_site.invent.errors import (
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
    InventUnavailable,
)
from timeline_site.invent.timeline import timeline_page
from timeline_site.invent.types import Activity, ActivityPage, Contact

SECRET = "sk-live-do-not-leak-0123456789"
WAIT = 10  # seconds: an upper bound on waits, never a timing assertion


def make_page(label: str = "a") -> ActivityPage:
    activity = Activity(id=f"act_{label}", type="note_created", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    return ActivityPage(items=(activity,), page=1, take=50, total=1, has_more=False)


def cached(fetch: Callable[[], ActivityPage], *, contact: str = "ct_x") -> tuple[ActivityPage, bool]:
    return cached_activity_page(org_id="org", contact_id=contact, activity_type=None, page=1, take=50, fetch=fetch)


def locmem_keys() -> list[str]:
    return list(caches["default"]._cache.keys())  # type: ignore[attr-defined]


# --- Keys -------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(INVENT_API_KEY=SECRET, DEMO_INVENT_API_KEY=SECRET)
def test_keys_and_values_never_hold_the_api_key() -> None:
    from django.core.cache.backends.locmem import LocMemCache

    assert isinstance(caches["default"], LocMemCache)  # the test reads the store's own keys
    page = timeline_page(org_id="northwind", contact_id="ct_ada", types=["note_created", "file_uploaded"])
    assert page.activities
    keys = locmem_keys()
    assert any(":act:northwind:ct_ada:note_created:1:50" in k for k in keys)
    for key in keys:
        assert SECRET not in key
        assert "Bearer" not in key
    for value in caches["default"]._cache.values():  # type: ignore[attr-defined]
        assert SECRET.encode() not in value  # LocMem stores pickles


def test_the_key_is_made_of_org_contact_type_page_and_take_only() -> None:
    from timeline_site.invent.cache import CACHE_VERSION

    # The version goes up whenever what is stored changes shape, so an old entry is never misread.
    assert CACHE_VERSION >= 1
    assert _key("act", "org", "ct_1", "all", 3, 50) == f"invent:v{CACHE_VERSION}:act:org:ct_1:all:3:50"


# --- One upstream call for identical concurrent misses -----------------------


class Gate:
    """A fetch that blocks until released, counting how often it was called."""

    def __init__(self, outcome: ActivityPage | InventError) -> None:
        self.outcome = outcome
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self) -> ActivityPage:
        with self.lock:
            self.calls += 1
        self.started.set()
        assert self.release.wait(WAIT)
        if isinstance(self.outcome, InventError):
            raise self.outcome
        return self.outcome


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Semaphore]:
    """Released once for every request that starts waiting on another's fetch."""
    entered = threading.Semaphore(0)
    original = page_cache._wait_for_other_fetch

    def wrapped(**kwargs: Any) -> Any:
        entered.release()
        return original(**kwargs)

    monkeypatch.setattr(page_cache, "_wait_for_other_fetch", wrapped)
    yield entered


def run_concurrently(gate: Gate, waiting: threading.Semaphore, requests: int) -> list[object]:
    """One request fetches; the others arrive while it is still fetching. Returns results or errors."""
    results: list[object] = [None] * requests

    def request(index: int) -> None:
        try:
            results[index] = cached(gate)
        except InventError as error:
            results[index] = error

    threads = [threading.Thread(target=request, args=(i,)) for i in range(requests)]
    threads[0].start()
    assert gate.started.wait(WAIT)
    for thread in threads[1:]:
        thread.start()
    for _ in threads[1:]:
        assert waiting.acquire(timeout=WAIT)  # every other request is now waiting, not fetching
    gate.release.set()
    for thread in threads:
        thread.join(WAIT)
    return results


def test_identical_concurrent_misses_make_one_upstream_call(waiting: threading.Semaphore) -> None:
    page = make_page()
    gate = Gate(page)
    results = run_concurrently(gate, waiting, 8)
    assert gate.calls == 1
    assert all(result == (page, False) for result in results)
    assert cached(Gate(make_page("other"))) == (page, False)  # and it is now cached


def test_waiters_share_a_failure_instead_of_repeating_the_call(waiting: threading.Semaphore) -> None:
    gate = Gate(InventRateLimited(30))
    results = run_concurrently(gate, waiting, 5)
    assert gate.calls == 1
    assert all(isinstance(r, InventRateLimited) and r.retry_after == 30 for r in results), results


def test_waiters_get_the_stale_copy_when_the_fetch_fails(waiting: threading.Semaphore) -> None:
    old = make_page("old")
    assert cached(lambda: old) == (old, False)
    cache.delete(_key("act", "org", "ct_x", "all", 1, 50))  # the fresh copy expires; the stale one stays
    gate = Gate(InventUnavailable())
    results = run_concurrently(gate, waiting, 5)
    assert gate.calls == 1
    assert results == [(old, True)] * 5


def test_the_fresh_copy_is_stored_before_the_lock_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise a waiter can find neither lock nor page, and fetch again."""
    backend = caches["default"]
    seen_at_release: list[object] = []
    original_delete = backend.delete

    def delete(key: str, *args: Any, **kwargs: Any) -> Any:
        if key.endswith(":lock"):
            seen_at_release.append(backend.get(key.removesuffix(":lock")))
        return original_delete(key, *args, **kwargs)

    monkeypatch.setattr(backend, "delete", delete)
    page = make_page()
    cached(lambda: page)
    assert seen_at_release == [page]


def test_a_lock_left_by_a_vanished_request_does_not_block_for_good() -> None:
    key = _key("act", "org", "ct_x", "all", 1, 50)
    cache.add(key + ":lock", "someone-who-crashed", timeout=0.2)
    page = make_page()
    assert cached(lambda: page) == (page, False)


def test_the_lock_outlives_the_slowest_fetch_the_client_allows() -> None:
    from django.conf import settings

    attempts = len(RETRY_DELAYS) + 1
    slowest = attempts * (settings.INVENT_CONNECT_TIMEOUT + settings.INVENT_READ_TIMEOUT) + sum(RETRY_DELAYS)
    assert _lock_seconds() > slowest


# --- Stale copies ---------------------------------------------------------------


@pytest.mark.parametrize("error", [InventUnavailable(), InventRateLimited(12)])
def test_a_stale_copy_is_served_when_invent_fails(error: InventError) -> None:
    old = make_page("old")
    cached(lambda: old)
    cache.delete(_key("act", "org", "ct_x", "all", 1, 50))

    def failing() -> ActivityPage:
        raise error

    assert cached(failing) == (old, True)


@pytest.mark.parametrize("error", [InventNotFound(), InventAuthError()])
def test_no_stale_copy_for_a_missing_contact_or_a_refused_key(error: InventError) -> None:
    cached(make_page)
    cache.delete(_key("act", "org", "ct_x", "all", 1, 50))

    def failing() -> ActivityPage:
        raise error

    with pytest.raises(type(error)):
        cached(failing)


def test_without_a_copy_the_failure_is_raised() -> None:
    def failing() -> ActivityPage:
        raise InventUnavailable("down")

    with pytest.raises(InventUnavailable):
        cached(failing)


@pytest.mark.django_db
def test_the_timeline_page_is_marked_stale_when_served_from_an_old_copy() -> None:
    fresh = timeline_page(org_id="northwind", contact_id="ct_ada")
    assert not fresh.stale
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_ada", "down", verbosity=0)
    assert timeline_page(org_id="northwind", contact_id="ct_ada") == fresh  # still fresh in the cache
    cache.delete(_key("act", "northwind", "ct_ada", "all", 1, 50))
    stale = timeline_page(org_id="northwind", contact_id="ct_ada")
    assert stale.stale
    assert [a.id for a in stale.activities] == [a.id for a in fresh.activities]


@override_settings(INVENT_CACHE_SECONDS=0)
def test_a_zero_lifetime_turns_the_cache_off() -> None:
    calls: list[int] = []

    def fetch() -> ActivityPage:
        calls.append(1)
        return make_page()

    cached(fetch)
    cached(fetch)
    assert len(calls) == 2
    assert not locmem_keys()


def test_failure_notes_survive_the_cache_round_trip() -> None:
    """Waiters rebuild the error from a plain note (exceptions do not pickle well)."""
    for error in (InventRateLimited(42), InventUnavailable("Invent answered 503", status=503), InventNotFound(),
                  InventAuthError()):  # fmt: skip
        cache.set("note", _failure_note(error))
        rebuilt = _error_from_note(cache.get("note"))
        assert type(rebuilt) is type(error)
        assert rebuilt.message == error.message
        assert getattr(rebuilt, "retry_after", None) == getattr(error, "retry_after", None)
        assert getattr(rebuilt, "status", None) == getattr(error, "status", None)


# --- Contacts ---------------------------------------------------------------------


def test_contacts_are_cached_too_including_invent_having_none() -> None:
    calls: list[str] = []
    ada = Contact(id="ct_ada", name="Ada")

    def fetch(contact: Contact | None) -> Callable[[], Contact | None]:
        def get() -> Contact | None:
            calls.append("call")
            return contact

        return get

    assert cached_contact(org_id="org", contact_id="ct_ada", fetch=fetch(ada)) == (ada, False)
    assert cached_contact(org_id="org", contact_id="ct_ada", fetch=fetch(None)) == (ada, False)
    assert cached_contact(org_id="org", contact_id="ct_none", fetch=fetch(None)) == (None, False)
    assert cached_contact(org_id="org", contact_id="ct_none", fetch=fetch(ada)) == (None, False)  # None was kept
    assert len(calls) == 2

    cache.delete(_key("contact", "org", "ct_ada"))

    def failing() -> Contact | None:
        raise InventUnavailable()

    assert cached_contact(org_id="org", contact_id="ct_ada", fetch=failing) == (ada, True)
