"""Short-lived cache of upstream pages, shared across processes when REDIS_URL is set.

Keys hold only org, contact, type, page and take (ids are validated to
[A-Za-z0-9_-] before they get here), never the key or anything secret.
Identical concurrent misses make one upstream call: the first takes a lock
with cache.add, the others wait briefly for its result. A longer-lived stale
copy is served, marked as such, when Invent fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from timeline_site.invent.errors import InventError, InventNotFound
from timeline_site.invent.types import ActivityPage

logger = logging.getLogger(__name__)

LOCK_POLL_SECONDS = 0.02
CACHE_VERSION = 1


def _key(*parts: object) -> str:
    return "invent:v{}:{}".format(CACHE_VERSION, ":".join(str(p) for p in parts))


def cached_activity_page(
    *, org_id: str, contact_id: str, activity_type: str | None, page: int, take: int,
    fetch: Callable[[], ActivityPage],
) -> tuple[ActivityPage, bool]:  # fmt: skip
    """Return (page, is_stale). Raises the fetch's InventError when there is no copy to fall back on."""
    fresh_seconds = settings.INVENT_CACHE_SECONDS
    if fresh_seconds <= 0:
        return fetch(), False
    key = _key("act", org_id, contact_id, activity_type or "all", page, take)
    stale_key, lock_key = key + ":stale", key + ":lock"

    cached = cache.get(key)
    if cached is not None:
        return cached, False

    lock_seconds = int(settings.INVENT_READ_TIMEOUT + settings.INVENT_CONNECT_TIMEOUT) + 2
    if not cache.add(lock_key, 1, timeout=lock_seconds):
        # Someone else is fetching this very page: wait for their answer
        # rather than spending another upstream call on it.
        deadline = time.monotonic() + lock_seconds
        while time.monotonic() < deadline:
            time.sleep(LOCK_POLL_SECONDS)
            cached = cache.get(key)
            if cached is not None:
                return cached, False
            if cache.get(lock_key) is None:
                break  # the other fetch failed; try ourselves
    try:
        result = fetch()
    except InventNotFound:
        raise
    except InventError:
        stale = cache.get(stale_key)
        if stale is not None:
            logger.info("Serving a stale copy of %s after an upstream failure", key)
            return stale, True
        raise
    finally:
        cache.delete(lock_key)
    cache.set_many({key: result}, timeout=fresh_seconds)
    cache.set(stale_key, result, timeout=settings.INVENT_STALE_SECONDS)
    return result, False
