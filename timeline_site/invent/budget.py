"""The shared upstream budget: every process and host together stays under N Invent calls a minute.

Invent allows 500 requests a minute per client address, and every worker and
host behind that address shares it. The count lives in Django's default cache:
Redis when REDIS_URL is set (shared by all processes and hosts), the in-process
LocMem cache otherwise (then each process has a budget of its own).

The window slides in one-second buckets. A call first increments the bucket of
the current second (cache.incr is atomic in Redis and in LocMem), then adds the
previous WINDOW_BUCKETS buckets; if the sum is over the limit it undoes its
increment and is refused. Incrementing before checking is what makes this safe
under concurrency: each caller's count already includes everyone who
incremented before it, so two callers can never both take the last unit. The 61
buckets summed cover any 60-second window that ends now, so no 60-second window
ever holds more admitted calls than the limit (a little conservative, by at most
one second's worth of calls). Hosts must keep their clocks in sync (NTP); the
only other slack is a call that straddles a second boundary, which re-checks the
clock after its increment and tries again in the new second.

That re-check also means a finished second's bucket can only ever shrink (an
undo), never grow: so each process reads the 60 older buckets once a second and
reuses their sum for the rest of it, which at worst over-counts. A call then
costs one increment, not 61 reads.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches

from timeline_site.invent.errors import InventRateLimited

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
WINDOW_BUCKETS = WINDOW_SECONDS  # whole one-second buckets before the current one
# Buckets outlive the window a little, so a slow caller still finds the one it is summing.
BUCKET_TTL_SECONDS = WINDOW_SECONDS + 10
KEY_PREFIX = "invent:budget"

Clock = Callable[[], float]


def _bucket_key(bucket: int) -> str:
    return f"{KEY_PREFIX}:{bucket}"


def _increment(store: BaseCache, key: str, delta: int = 1) -> int:
    try:
        return store.incr(key, delta)
    except ValueError:  # no bucket yet for this second (or it expired in between)
        store.add(key, 0, timeout=BUCKET_TTL_SECONDS)
        return store.incr(key, delta)


# Per store: (the current second, the counts of the 60 seconds before it).
_settled: weakref.WeakKeyDictionary[BaseCache, tuple[int, dict[int, int]]] = weakref.WeakKeyDictionary()
_settled_lock = threading.Lock()


def _older_counts(store: BaseCache, bucket: int) -> dict[int, int]:
    """Calls counted in the WINDOW_BUCKETS seconds before `bucket`, read once per second and store."""
    with _settled_lock:
        known = _settled.get(store)
    if known is not None and known[0] == bucket:
        return known[1]
    older = store.get_many([_bucket_key(b) for b in range(bucket - WINDOW_BUCKETS, bucket)])
    counts = {int(k.rsplit(":", 1)[1]): int(v) for k, v in older.items()}
    with _settled_lock:
        _settled[store] = (bucket, counts)
    return counts


def _undo(store: BaseCache, key: str) -> None:
    with contextlib.suppress(ValueError):  # the bucket is gone: nothing left to give back
        store.decr(key)


def _retry_after(bucket: int, counts: dict[int, int], excess: int, now: float) -> int:
    """Whole seconds until `excess` calls have slid out of the window."""
    freed = 0
    for b in range(bucket - WINDOW_BUCKETS, bucket + 1):
        freed += counts.get(b, 0)
        if freed >= excess:
            # Bucket b stops being summed once the current bucket is b + WINDOW_BUCKETS + 1.
            return max(1, math.ceil(b + WINDOW_BUCKETS + 1 - now))
    return WINDOW_SECONDS + 1


def budget_spend(*, per_minute: int, store: BaseCache | None = None, clock: Clock = time.time) -> None:
    """Take one upstream call from the shared budget, or raise InventRateLimited(retry_after).

    `per_minute` <= 0 turns the budget off. Called before every HTTP attempt,
    retries included, through InventClient.before_request.
    """
    if per_minute <= 0:
        return
    store = store if store is not None else caches[DEFAULT_CACHE_ALIAS]  # this thread's connection
    for _attempt in range(3):  # bounded: a retry happens only when a second ticked over mid-call
        now = clock()
        bucket = int(now)
        key = _bucket_key(bucket)
        mine = _increment(store, key)
        if int(clock()) != bucket:
            # Our increment may have landed after a caller in the new second
            # summed this bucket: it does not count. Start again in the new second.
            _undo(store, key)
            continue
        counts = _older_counts(store, bucket)
        used = mine + sum(counts.values())
        if used <= per_minute:
            return
        _undo(store, key)
        counts = {**counts, bucket: mine}
        retry_after = _retry_after(bucket, counts, used - per_minute, now)
        logger.info("Upstream budget of %d a minute is spent; next call in %d s", per_minute, retry_after)
        raise InventRateLimited(retry_after, "The dashboard's share of Invent's request budget is used up for now.")
    raise InventRateLimited(1, "The dashboard's share of Invent's request budget is used up for now.")


def budget_used(*, store: BaseCache | None = None, clock: Clock = time.time) -> int:
    """Calls counted in the current window (for tests and diagnostics)."""
    store = store if store is not None else caches[DEFAULT_CACHE_ALIAS]  # this thread's connection
    bucket = int(clock())
    values = store.get_many([_bucket_key(b) for b in range(bucket - WINDOW_BUCKETS, bucket + 1)])
    return sum(int(v) for v in values.values())


def budget_hook(per_minute: int) -> Callable[[], None] | None:
    """The InventClient.before_request hook for this rate, or None when the budget is off."""
    if per_minute <= 0:
        return None

    def spend() -> None:
        budget_spend(per_minute=per_minute)

    return spend
