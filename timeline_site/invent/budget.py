"""The shared upstream budget: every process and host together stays under N Invent calls a minute.

Invent allows 500 requests a minute per client address, and every worker and
host behind that address shares it. The count lives in the `counters` cache
(one that never evicts, so a full page cache cannot reset the budget; `default`
when there is no such alias): Redis when REDIS_URL is set (shared by all
processes and hosts), the in-process LocMem cache otherwise (then each process
has a budget of its own).

Within a web request (request_allowance, entered by core.upstream's middleware)
two more limits apply: the request may make at most INVENT_MAX_CALLS_PER_REQUEST
upstream attempts, and each user has a sliding-window share of their own
(INVENT_BUDGET_PER_USER_PER_MINUTE), so one person cannot spend the budget for
everyone. Outside a request (management commands, tests) only the shared
budget applies.

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
import hashlib
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches

from timeline_site.invent.errors import InventAllowanceSpent, InventRateLimited

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
WINDOW_BUCKETS = WINDOW_SECONDS  # whole one-second buckets before the current one
# Buckets outlive the window a little, so a slow caller still finds the one it is summing.
BUCKET_TTL_SECONDS = WINDOW_SECONDS + 10
KEY_PREFIX = "invent:budget"
COUNTERS_CACHE_ALIAS = "counters"
SHARED_SPENT = "The dashboard's share of Invent's request budget is used up for now."
USER_SHARE_SPENT = "You have used your share of Invent's request budget for now; other staff can still load pages."
REQUEST_CAP_REACHED = (
    "This page needed more of Invent than one request may use. Choose fewer activity types, or load it again."
)

Clock = Callable[[], float]


def counters_store() -> BaseCache:
    """This thread's connection to the cache the counts live in."""
    alias = COUNTERS_CACHE_ALIAS if COUNTERS_CACHE_ALIAS in settings.CACHES else DEFAULT_CACHE_ALIAS
    return caches[alias]


def _bucket_key(bucket: int, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}:{bucket}"


def _increment(store: BaseCache, key: str, delta: int = 1) -> int:
    try:
        return store.incr(key, delta)
    except ValueError:  # no bucket yet for this second (or it expired in between)
        store.add(key, 0, timeout=BUCKET_TTL_SECONDS)
        return store.incr(key, delta)


# Per store: (the current second, per window (key prefix) the counts of the 60 seconds
# before it). Only the current second is kept, so the users' windows held here are
# only those of users who called in the last second.
_settled: weakref.WeakKeyDictionary[BaseCache, tuple[int, dict[str, dict[int, int]]]] = weakref.WeakKeyDictionary()
_settled_lock = threading.Lock()


def _older_counts(store: BaseCache, bucket: int, prefix: str = KEY_PREFIX) -> dict[int, int]:
    """Calls counted in the WINDOW_BUCKETS seconds before `bucket`, read once per second, store and window."""
    with _settled_lock:
        known = _settled.get(store)
        if known is not None and known[0] == bucket and prefix in known[1]:
            return known[1][prefix]
    older = store.get_many([_bucket_key(b, prefix) for b in range(bucket - WINDOW_BUCKETS, bucket)])
    counts = {int(k.rsplit(":", 1)[1]): int(v) for k, v in older.items()}
    with _settled_lock:
        known = _settled.get(store)
        if known is None or known[0] < bucket:
            known = (bucket, {})
            _settled[store] = known
        if known[0] == bucket:
            known[1][prefix] = counts
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


def budget_spend(
    *,
    per_minute: int,
    store: BaseCache | None = None,
    clock: Clock = time.time,
    prefix: str = KEY_PREFIX,
    refusal: Callable[[int], InventRateLimited] | None = None,
) -> str | None:
    """Take one upstream call from a sliding-window budget, or raise InventRateLimited(retry_after).

    Returns the key of the bucket charged (to give the unit back with `budget_refund`),
    or None when `per_minute` <= 0, which turns the budget off. Called before every
    HTTP attempt, retries included, through InventClient.before_request. `prefix`
    names the window (the shared one by default, or one user's); `refusal` builds
    the error raised when it is spent.
    """
    if per_minute <= 0:
        return None
    store = store if store is not None else counters_store()
    for _attempt in range(3):  # bounded: a retry happens only when a second ticked over mid-call
        now = clock()
        bucket = int(now)
        key = _bucket_key(bucket, prefix)
        mine = _increment(store, key)
        if int(clock()) != bucket:
            # Our increment may have landed after a caller in the new second
            # summed this bucket: it does not count. Start again in the new second.
            _undo(store, key)
            continue
        counts = _older_counts(store, bucket, prefix)
        used = mine + sum(counts.values())
        if used <= per_minute:
            return key
        _undo(store, key)
        counts = {**counts, bucket: mine}
        retry_after = _retry_after(bucket, counts, used - per_minute, now)
        logger.info("Upstream budget %s of %d a minute is spent; next call in %d s", prefix, per_minute, retry_after)
        raise refusal(retry_after) if refusal else InventRateLimited(retry_after, SHARED_SPENT)
    raise refusal(1) if refusal else InventRateLimited(1, SHARED_SPENT)


def budget_refund(key: str | None, *, store: BaseCache | None = None) -> None:
    """Give back a unit that budget_spend charged to `key` (a call that was not made after all)."""
    if key is not None:
        _undo(store if store is not None else counters_store(), key)


def budget_used(*, store: BaseCache | None = None, clock: Clock = time.time, prefix: str = KEY_PREFIX) -> int:
    """Calls counted in the current window (for tests and diagnostics)."""
    store = store if store is not None else counters_store()
    bucket = int(clock())
    values = store.get_many([_bucket_key(b, prefix) for b in range(bucket - WINDOW_BUCKETS, bucket + 1)])
    return sum(int(v) for v in values.values())


# --- Per request and per user ---------------------------------------------


def user_prefix(user_key: str) -> str:
    """The window of one user's share. Hashed: no address or id in the cache, and a clean key."""
    digest = hashlib.blake2b(user_key.encode(), digest_size=8).hexdigest()
    return f"{KEY_PREFIX}:user:{digest}"


@dataclass(eq=False)
class Allowance:
    """One web request's upstream allowance. Shared, through the context, by the pool tasks
    the request starts (contextvars.copy_context), hence the lock."""

    user_key: str
    max_calls: int  # <= 0: no cap
    calls: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def prefix(self) -> str:
        return user_prefix(self.user_key)

    def take(self) -> None:
        """Count one upstream attempt, or refuse once the request has made max_calls."""
        with self._lock:
            if 0 < self.max_calls <= self.calls:
                self.refused += 1
                first_refusal = self.refused == 1
            else:
                self.calls += 1
                return
        if first_refusal:  # one line per request, however many of its reads are refused
            logger.warning("A request of %s reached its cap of %d upstream calls", self.user_key, self.max_calls)
        raise InventAllowanceSpent(None, REQUEST_CAP_REACHED)

    def give_back(self) -> None:
        """Undo take(): the attempt was refused by a budget and never made."""
        with self._lock:
            self.calls -= 1


_allowance: ContextVar[Allowance | None] = ContextVar("invent_allowance", default=None)


def current_allowance() -> Allowance | None:
    return _allowance.get()


@contextlib.contextmanager
def request_allowance(*, user_key: str, max_calls: int | None = None) -> Iterator[Allowance]:
    """Within this block, upstream calls are capped per request and charged to `user_key`'s share.

    `max_calls` defaults to INVENT_MAX_CALLS_PER_REQUEST; a view that legitimately
    needs more (an export) opens its own, larger allowance inside the request's.
    """
    cap = settings.INVENT_MAX_CALLS_PER_REQUEST if max_calls is None else max_calls
    allowance = Allowance(user_key=user_key, max_calls=cap)
    token = _allowance.set(allowance)
    try:
        yield allowance
    finally:
        _allowance.reset(token)


def _user_share_spent(retry_after: int) -> InventRateLimited:
    return InventAllowanceSpent(retry_after, USER_SHARE_SPENT)


def spend_upstream_call(*, per_minute: int, per_user_per_minute: int, store: BaseCache | None = None) -> None:
    """Everything one upstream attempt is charged to, or InventRateLimited with nothing charged.

    In order: the request's cap, the user's share, the shared budget; a refusal
    gives back what the earlier ones took, so a refused call costs nobody anything.
    """
    allowance = _allowance.get()
    if allowance is None:
        budget_spend(per_minute=per_minute, store=store)
        return
    allowance.take()
    store = store if store is not None else counters_store()
    user_charge: str | None = None
    try:
        user_charge = budget_spend(
            per_minute=per_user_per_minute, store=store, prefix=allowance.prefix, refusal=_user_share_spent
        )
        budget_spend(per_minute=per_minute, store=store)
    except BaseException:
        budget_refund(user_charge, store=store)
        allowance.give_back()
        raise


def upstream_hook(*, per_minute: int, per_user_per_minute: int) -> Callable[[], None]:
    """The InventClient.before_request hook of the process client. Always installed: even
    with both budgets off (<= 0) a request's cap on upstream calls still applies."""

    def spend() -> None:
        spend_upstream_call(per_minute=per_minute, per_user_per_minute=per_user_per_minute)

    return spend
