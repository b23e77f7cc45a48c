"""Short-lived cache of upstream reads (activity pages, contacts), shared across processes when REDIS_URL is set.

Keys hold only org, contact, type, page and take (ids are validated to
[A-Za-z0-9_-] before they get here), never the key or anything secret.
Identical concurrent misses make one upstream call: the first takes a lock
with cache.add, the others wait for its result (or for its failure, which they
then share instead of repeating the call). A longer-lived stale copy is
served, marked as such, when Invent is down, slow or rate limiting us.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache

from timeline_site.invent.client import RETRY_DELAYS
from timeline_site.invent.errors import (
    InventAllowanceSpent,
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
    InventUnavailable,
)
from timeline_site.invent.types import ActivityPage, Contact

logger = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: a stale copy is kept with the time it was fetched
# Waiters poll for the lock holder's answer, quickly at first.
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.05
# How long a failed fetch is reported to the requests that were waiting on it.
FAILURE_NOTE_SECONDS = 5
# Not worth an "out of date" copy: the contact is gone, or the key is wrong (a
# configuration problem that must be seen, not papered over for ten minutes).
NO_STALE_COPY_FOR = (InventNotFound, InventAuthError)

Outcome = tuple[Any, bool]  # (value, is_stale)


@dataclass(frozen=True, slots=True)
class StaleCopy:
    """A stale copy that was served: when it was fetched, and whether Invent (or the shared budget) was
    busy, as opposed to failing, so the page can say which and how old the copy is."""

    fetched_at: datetime
    busy: bool


OnStale = Callable[[StaleCopy], None] | None  # told when a read is answered from a stale copy


class _Nothing:
    """Stands for a cached None: the cache itself answers None for a miss."""


def _store(value: object) -> object:
    return _Nothing() if value is None else value


def _load(stored: object) -> Any:
    return None if isinstance(stored, _Nothing) else stored


def _key(*parts: object) -> str:
    return "invent:v{}:{}".format(CACHE_VERSION, ":".join(str(p) for p in parts))


def _lock_seconds() -> int:
    """Long enough for the slowest fetch the client allows (every attempt timing out, plus its pauses)."""
    attempts = len(RETRY_DELAYS) + 1
    worst = attempts * (settings.INVENT_CONNECT_TIMEOUT + settings.INVENT_READ_TIMEOUT) + sum(RETRY_DELAYS)
    return math.ceil(worst) + 1


def _failure_note(error: InventError) -> dict[str, Any]:
    # A plain dict: exceptions with keyword-only arguments do not survive pickling.
    return {
        "kind": type(error).__name__,
        "message": error.message,
        "retry_after": getattr(error, "retry_after", None),
        "status": getattr(error, "status", None),
    }


def _error_from_note(note: dict[str, Any]) -> InventError:
    kind, message = note.get("kind"), note.get("message")
    if kind == InventRateLimited.__name__:
        return InventRateLimited(note.get("retry_after"), message)
    if kind == InventNotFound.__name__:
        return InventNotFound(message)
    if kind == InventAuthError.__name__:
        return InventAuthError(message)
    return InventUnavailable(message, status=note.get("status"))


def _stale_or_raise(error: InventError, stale_key: str, key: str, on_stale: OnStale = None) -> Outcome:
    if not isinstance(error, NO_STALE_COPY_FOR):
        stale = cache.get(stale_key)
        if stale is not None:
            fetched_at, stored = stale
            logger.info("Serving a stale copy of %s after an upstream failure (%s)", key, type(error).__name__)
            if on_stale is not None:
                on_stale(StaleCopy(datetime.fromtimestamp(fetched_at, UTC), isinstance(error, InventRateLimited)))
            return _load(stored), True
    raise error


def _wait_for_other_fetch(
    *, key: str, stale_key: str, lock_key: str, failure_key: str, seconds: int, on_stale: OnStale = None
) -> Outcome | None:
    """The other request's answer, or its failure; None when it vanished without either."""
    deadline = time.monotonic() + seconds
    pause = FIRST_POLL_SECONDS
    while time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 1.5, MAX_POLL_SECONDS)
        found = cache.get_many([key, lock_key, failure_key])
        if key in found:
            return _load(found[key]), False
        if lock_key not in found:
            note = found.get(failure_key)
            if note is None:
                return None  # it crashed or its lock expired: fetch ourselves
            return _stale_or_raise(_error_from_note(note), stale_key, key, on_stale)
    return None


def cached_activity_page(
    *, org_id: str, contact_id: str, activity_type: str | None, page: int, take: int,
    fetch: Callable[[], ActivityPage], fresh_seconds: int | None = None, refresh: bool = False,
    on_stale: OnStale = None,
) -> tuple[ActivityPage, bool]:  # fmt: skip
    """Return (page, is_stale). Raises the fetch's InventError when there is no copy to fall back on.
    `fresh_seconds`, `refresh` and `on_stale`: see cached_upstream."""
    key = _key("act", org_id, contact_id, activity_type or "all", page, take)
    return cast(
        tuple[ActivityPage, bool],
        cached_upstream(key=key, fetch=fetch, fresh_seconds=fresh_seconds, refresh=refresh, on_stale=on_stale),
    )


def cached_contact(*, org_id: str, contact_id: str, fetch: Callable[[], Contact | None]) -> tuple[Contact | None, bool]:
    """The contact (None when Invent cannot give one), cached like a page: one call per contact per lifetime."""
    return cast(tuple[Contact | None, bool], cached_upstream(key=_key("contact", org_id, contact_id), fetch=fetch))


def cached_upstream(
    *, key: str, fetch: Callable[[], object], fresh_seconds: int | None = None, refresh: bool = False,
    on_stale: OnStale = None,
) -> Outcome:  # fmt: skip
    """(value, is_stale) for one upstream read under `key`: fresh from the cache, fetched once, or a stale copy.

    `fresh_seconds` overrides INVENT_CACHE_SECONDS for this key (never turning a cache that is off on);
    `refresh` skips a fresh copy known to be older than what the caller has already seen (and replaces it);
    `on_stale` is told when and why a stale copy is the answer (the copy is kept with its fetch time).
    """
    if settings.INVENT_CACHE_SECONDS <= 0:
        return fetch(), False
    fresh_seconds = settings.INVENT_CACHE_SECONDS if fresh_seconds is None else max(1, fresh_seconds)
    stale_key, lock_key, failure_key = key + ":stale", key + ":lock", key + ":failed"

    cached = None if refresh else cache.get(key)
    if cached is not None:
        return _load(cached), False

    token = uuid.uuid4().hex
    lock_seconds = _lock_seconds()
    have_lock = cache.add(lock_key, token, timeout=lock_seconds)
    if not have_lock and not refresh:  # (waiting would find the very copy a refresh is to replace)
        # Someone else is fetching this very thing: wait for their answer
        # rather than spending another upstream call on it.
        outcome = _wait_for_other_fetch(
            key=key,
            stale_key=stale_key,
            lock_key=lock_key,
            failure_key=failure_key,
            seconds=lock_seconds,
            on_stale=on_stale,
        )
        if outcome is not None:
            return outcome
        have_lock = cache.add(lock_key, token, timeout=lock_seconds)
    try:
        result = fetch()
    except InventError as error:
        # A request's own cap or its user's share says nothing about Invent: the waiters
        # (other requests, maybe other users) then fetch for themselves.
        if have_lock and not isinstance(error, InventAllowanceSpent):
            cache.set(failure_key, _failure_note(error), timeout=FAILURE_NOTE_SECONDS)
        return _stale_or_raise(error, stale_key, key, on_stale)
    else:
        # Stored before the lock is released, so a waiter never finds neither.
        stored = _store(result)
        cache.set(key, stored, timeout=fresh_seconds)
        cache.set(stale_key, (time.time(), stored), timeout=max(settings.INVENT_STALE_SECONDS, fresh_seconds))
        return result, False
    finally:
        if have_lock and cache.get(lock_key) == token:
            cache.delete(lock_key)
