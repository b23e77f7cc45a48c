"""The shared upstream budget (timeline_site.invent.budget) and how the dashboard lives with it.

The cross-process version of these checks, through Redis and two gunicorns, is
in test_services.py.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterator

import pytest
import responses
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client, override_settings

from timeline_site.invent import budget
from timeline_site.invent.budget import budget_spend, budget_used, request_allowance, upstream_hook
from timeline_site.invent.cache import _key
from timeline_site.invent.client import InventClient, build_client
from timeline_site.invent.errors import InventRateLimited

ADA = "/orgs/northwind/contacts/ct_ada/"
BRUNO = "/orgs/northwind-emea/contacts/ct_bruno/"
HX = {"HTTP_HX_REQUEST": "true"}


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> Iterator[LocMemCache]:
    local = LocMemCache("budget-tests", {})
    yield local
    local.clear()


def spend(store: LocMemCache, clock: Callable[[], float], per_minute: int) -> bool:
    try:
        budget_spend(per_minute=per_minute, store=store, clock=clock)
    except InventRateLimited:
        return False
    return True


def test_admits_up_to_the_limit_then_refuses_before_any_call(store: LocMemCache) -> None:
    clock = FakeClock(1000.2)
    assert [spend(store, clock, 5) for _ in range(5)] == [True] * 5
    with pytest.raises(InventRateLimited) as refused:
        budget_spend(per_minute=5, store=store, clock=clock)
    assert refused.value.retry_after == 61  # everything was spent this second: it leaves the window in 61 s
    assert budget_used(store=store, clock=clock) == 5  # a refusal gives its unit back


def test_the_window_slides_and_retry_after_says_when_room_frees_up(store: LocMemCache) -> None:
    clock = FakeClock(100.2)
    assert all(spend(store, clock, 5) for _ in range(3))
    clock.now = 130.5
    assert all(spend(store, clock, 5) for _ in range(2))
    clock.now = 131.0
    with pytest.raises(InventRateLimited) as refused:
        budget_spend(per_minute=5, store=store, clock=clock)
    assert refused.value.retry_after == 30  # the calls of second 100 stop counting at 161
    clock.now = 160.9
    assert not spend(store, clock, 5)
    clock.now = 161.0
    assert [spend(store, clock, 5) for _ in range(4)] == [True, True, True, False]  # second 130's two still count


def test_no_sixty_second_window_ever_holds_more_than_the_limit(store: LocMemCache) -> None:
    rng = random.Random(5)
    clock = FakeClock(5000.0)
    admitted: list[float] = []
    for _ in range(3000):
        clock.now += rng.expovariate(10.0)  # ~10 calls a second against a budget of 100 a minute
        if spend(store, clock, 100):
            admitted.append(clock.now)
    assert len(admitted) > 300  # it did admit, window after window
    start = 0
    for end, moment in enumerate(admitted):
        while admitted[start] <= moment - 60:
            start += 1
        assert end - start + 1 <= 100, f"{end - start + 1} calls in the minute ending at {moment}"


def test_concurrent_callers_never_take_more_than_the_limit(store: LocMemCache) -> None:
    clock = FakeClock(2000.5)  # one second throughout: every caller races for the same bucket
    admitted = 0
    lock = threading.Lock()
    start = threading.Barrier(16)

    def caller() -> None:
        nonlocal admitted
        start.wait(timeout=10)
        for _ in range(20):
            if spend(store, clock, 50):
                with lock:
                    admitted += 1

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert admitted == 50
    assert budget_used(store=store, clock=clock) == 50


def test_a_call_that_straddles_a_second_is_counted_in_the_new_second(store: LocMemCache) -> None:
    readings = iter([9.999, 10.001, 10.001, 10.002])  # the second ticks over between increment and check

    budget_spend(per_minute=5, store=store, clock=lambda: next(readings))
    assert store.get(budget._bucket_key(9)) == 0
    assert store.get(budget._bucket_key(10)) == 1


def test_the_older_seconds_are_read_once_a_second(store: LocMemCache, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    get_many = store.get_many
    monkeypatch.setattr(store, "get_many", lambda keys: reads.append(len(keys)) or get_many(keys))
    clock = FakeClock(1000.2)
    for _ in range(10):
        budget_spend(per_minute=100, store=store, clock=clock)
    assert reads == [60]  # ten calls in one second: one read of the 60 seconds before it
    clock.now += 1
    budget_spend(per_minute=100, store=store, clock=clock)
    assert reads == [60, 60] and budget_used(store=store, clock=clock) == 11


def test_zero_turns_the_budget_off(store: LocMemCache) -> None:
    clock = FakeClock(1.0)
    assert all(spend(store, clock, 0) for _ in range(1000))
    assert budget_used(store=store, clock=clock) == 0


@responses.activate
def test_the_client_pays_every_attempt_and_sends_nothing_once_the_budget_is_spent(store: LocMemCache) -> None:
    url = "https://invent.test/orgs/o/contacts/c/activities"
    responses.get(url, status=503)
    responses.get(url, json=[], headers={"pagination-count": "0"})
    clock = FakeClock(50.5)
    client = InventClient(
        base_url="https://invent.test", api_key="k",
        before_request=lambda: budget_spend(per_minute=3, store=store, clock=clock),
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("timeline_site.invent.client.RETRY_DELAYS", (0.0, 0.0))
        client.list_activities(org_id="o", contact_id="c")  # a 503, then a success: two units
        assert budget_used(store=store, clock=clock) == 2
        client.list_activities(org_id="o", contact_id="c")
        with pytest.raises(InventRateLimited) as refused:
            client.list_activities(org_id="o", contact_id="c")
    assert refused.value.retry_after == 61
    assert len(responses.calls) == 3  # the refused request never left the building


def test_the_process_client_is_built_with_the_configured_budget() -> None:
    with override_settings(INVENT_BUDGET_PER_MINUTE=2, INVENT_BUDGET_PER_USER_PER_MINUTE=0):
        hook = build_client().before_request
        assert hook is not None
        hook()
        hook()
        with pytest.raises(InventRateLimited):
            hook()
    with override_settings(INVENT_BUDGET_PER_MINUTE=0, INVENT_BUDGET_PER_USER_PER_MINUTE=0):
        # Both budgets off: nothing is counted, but a request's cap still applies.
        hook = build_client().before_request
        assert hook is not None
        for _ in range(100):
            hook()
        with request_allowance(user_key="user:1", max_calls=1):
            hook()
            with pytest.raises(InventRateLimited):
                hook()


def test_the_budget_is_kept_in_the_counters_cache() -> None:
    """Not a per-process counter, and not in the page cache, where evictions would reset it:
    another process reading the same `counters` cache sees the spend."""
    hook = upstream_hook(per_minute=10, per_user_per_minute=0)
    hook()
    hook()
    assert budget_used(store=caches["counters"]) == 2
    assert budget_used(store=caches["default"]) == 0


@override_settings(INVENT_BUDGET_PER_MINUTE=1)
def test_when_the_budget_is_spent_the_page_says_when_to_try_again(staff_client: Client) -> None:
    assert staff_client.get(ADA, **HX).status_code == 200  # the one upstream call this minute
    response = staff_client.get(BRUNO, **HX)
    html = response.content.decode()
    assert response.status_code == 503
    assert "Invent is busy" in html
    match = re.search(r"Try again in (\d+) seconds?", html)
    assert match is not None, html
    assert 1 <= int(match.group(1)) <= 61
    assert response["Retry-After"] == match.group(1)


@override_settings(INVENT_BUDGET_PER_MINUTE=1)
def test_when_the_budget_is_spent_a_stale_copy_is_served_instead(staff_client: Client) -> None:
    from django.core.cache import cache

    assert staff_client.get(ADA, **HX).status_code == 200
    cache.delete(_key("act", "northwind", "ct_ada", "all", 1, 50))  # the fresh copy has expired
    response = staff_client.get(ADA)
    html = response.content.decode()
    assert response.status_code == 200
    assert "may be out of date" in html
    assert html.count("data-activity-id=") == 50
