"""The API's request budgets: a sliding-window counter per credential, kept in Redis for every
process and spent locally between syncs, so that a request costs no round trip.

Each budget has one counter per window; the estimate of the last `duration` seconds weights the
previous window by how much of it still overlaps them (the usual sliding-window counter,
within a few percent of exact). Requests refused do not count: a client that waits the
`Retry-After` it was given gets through.

Each process spends a budget locally and syncs it (one Lua call: add what it admitted, read
both windows, decide one more request atomically) every SYNC_SECONDS, or sooner once it has
admitted LOCAL_SHARE of what was left at its last sync; near the limit that is every request.
A single process never exceeds the limit; processes spending one budget at the same moment can
exceed it by at most LOCAL_SHARE of the remainder each. A refusal is remembered until its
Retry-After, so a client hammering past its limit costs no round trip either.

Budgets are per credential, keyed by what identifies it everywhere (the API key's digest, the
user's id and join time), and per client address for requests without valid credentials (no
key, a wrong key), which are counted before authentication refuses them. Every key carries the
deployment's prefix. Without Redis (the embedded defaults) the budgets live in this process.
If Redis fails, requests are let through: a rate limit must never take the API down with it.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from apps.apikeys.models import ApiKey
from apps.core.redis_pool import FastPath

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SYNC_SECONDS = 0.1
# Between syncs a process admits at most this share of the budget left at its last sync; once
# that is less than one request, every request is decided in Redis.
LOCAL_SHARE = 0.1
MAX_BUDGETS = 100_000

# Add the requests admitted since the last sync to this window, and count one more when the
# estimate leaves room (ARGV: admitted, want, limit, previous window's weight, TTL).
_SYNC = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local admitted, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local allowed = 0
if want == 1 and previous * tonumber(ARGV[4]) + current + admitted + 1 <= tonumber(ARGV[3]) then
  allowed = 1
end
local add = admitted + allowed
if add > 0 then
  current = redis.call('INCRBY', KEYS[1], add)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return {current, previous, allowed}
"""

redis_path = FastPath("API rate limit")


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1200/min" -> (1200, 60)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


@dataclass
class Budget:
    """One credential's budget as this process knows it."""

    window: int = -1
    current: int = 0  # this window's count at the last sync (everyone's)
    previous: int = 0  # the previous window's count at the last sync
    admitted: int = 0  # admitted here since the last sync, not yet added in Redis
    synced_at: float = -math.inf
    refused_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the current window ends
    retry_after: int = 0


class Budgets:
    """The budgets this process spends, synced with Redis (or kept here without it)."""

    def __init__(self) -> None:
        self._budgets: dict[str, Budget] = {}
        self._lock = threading.Lock()

    def _budget(self, ident: str) -> Budget:
        budget = self._budgets.get(ident)
        if budget is None:
            with self._lock:
                if len(self._budgets) >= MAX_BUDGETS:
                    self._budgets.clear()
                budget = self._budgets.setdefault(ident, Budget())
        return budget

    def take(self, ident: str, rate: str) -> Decision:
        """Spend one request of `ident`'s budget at `rate`, or refuse it."""
        limit, duration = parse_rate(rate)
        now = time.time()
        window, into = divmod(now, duration)
        counter = _Counter(f"{settings.STOCKROOM_REDIS_PREFIX}:throttle:{ident}:", duration)
        weight = 1 - into / duration
        reset = math.ceil(duration - into)
        budget = self._budget(ident)
        with budget.lock:
            if budget.window != int(window):
                if budget.admitted:  # what was admitted belongs to its own window
                    counter.add(budget.window, budget.admitted)
                    budget.admitted = 0
                budget.window, budget.synced_at = int(window), -math.inf
            if now < budget.refused_until:
                return _refusal(budget, limit, weight, reset, now)
            headroom = limit - (budget.previous * weight + budget.current)
            if (
                now - budget.synced_at >= SYNC_SECONDS
                or budget.admitted + 1 > headroom * LOCAL_SHARE
            ):
                allowed = counter.sync(budget, int(window), limit, weight, now, want=1)
            else:
                allowed = True
                budget.admitted += 1
            if not allowed:
                budget.refused_until = now + _wait(budget, limit, duration, into)
                return _refusal(budget, limit, weight, reset, now)
            estimate = budget.previous * weight + budget.current + budget.admitted
            return Decision(True, limit, max(0, math.floor(limit - estimate)), reset)


def _refusal(budget: Budget, limit: int, weight: float, reset: int, now: float) -> Decision:
    estimate = budget.previous * weight + budget.current + budget.admitted
    return Decision(
        False,
        limit,
        max(0, math.floor(limit - estimate)),
        reset,
        retry_after=max(1, math.ceil(budget.refused_until - now)),
    )


# Embedded defaults (no Redis): the counters of this process, by key prefix and window.
_local_counters: dict[str, dict[int, int]] = {}


@dataclass(frozen=True)
class _Counter:
    """The window counters of one budget, in Redis (or in this process without it)."""

    key: str
    duration: int

    def add(self, window: int, admitted: int) -> None:
        self._call(window, admitted, 0, 0, 0.0)

    def sync(
        self, budget: Budget, window: int, limit: int, weight: float, now: float, *, want: int
    ) -> bool:
        """Add what was admitted, read both windows, and (want=1) decide one more request.
        True when it is allowed (always, when the counters are out of reach)."""
        found = self._call(window, budget.admitted, want, limit, weight)
        budget.window, budget.admitted, budget.synced_at = window, 0, now
        if found is None:
            budget.current = budget.previous = 0
            return True
        budget.current, budget.previous, allowed = found
        return bool(allowed)

    def _call(
        self, window: int, admitted: int, want: int, limit: int, weight: float
    ) -> tuple[int, int, int] | None:
        if not settings.REDIS_URL:
            return self._local(window, admitted, want, limit, weight)
        client = redis_path.client()
        if client is None:  # Redis failed moments ago: let the request through
            return None
        try:
            current, previous, allowed = redis_path.script(client, _SYNC)(
                keys=[f"{self.key}{window}", f"{self.key}{window - 1}"],
                args=[admitted, want, limit, repr(weight), 2 * self.duration],
            )
        except redis.RedisError as error:
            redis_path.failed(error)
            return None
        return int(current), int(previous), int(allowed)

    def _local(
        self, window: int, admitted: int, want: int, limit: int, weight: float
    ) -> tuple[int, int, int]:
        counts = _local_counters.setdefault(self.key, {})
        current, previous = counts.get(window, 0) + admitted, counts.get(window - 1, 0)
        allowed = int(want == 1 and previous * weight + current + 1 <= limit)
        counts[window] = current + allowed
        for old in [w for w in counts if w < window - 1]:
            del counts[old]
        return current + allowed, previous, allowed


def _wait(budget: Budget, limit: int, duration: int, into: float) -> float:
    """Seconds until one more request fits: until the previous window's weight has shrunk
    enough, or, when this window alone is full, into the next window until this one's has."""
    current, previous = budget.current + budget.admitted, budget.previous
    if current + 1 <= limit and previous:
        # previous * (1 - (into + wait) / duration) + current + 1 <= limit
        return max(
            0.0, (previous * (1 - into / duration) + current + 1 - limit) / previous * duration
        )
    # Next window: current * (1 - t / duration) + 1 <= limit
    into_next = duration * max(0.0, 1 - (limit - 1) / current) if current else 0.0
    return duration - into + into_next


budgets = Budgets()


def key_ident(api_key: ApiKey) -> str:
    """An API key's budget: by its digest (the same in every process and deployment)."""
    return f"key:{api_key.hashed_key[:24]}"


def credential_ident(request) -> str | None:
    """What identifies the request's credential in every process and deployment, or None
    when it has none (no key, a wrong key: authentication raises then, after counting)."""
    auth = request.auth  # authenticates: a wrong key raises AuthenticationFailed here
    if isinstance(auth, ApiKey):
        return key_ident(auth)
    user = request.user
    if user and user.is_authenticated:
        joined = hashlib.sha256(f"{user.pk}:{user.date_joined.isoformat()}".encode()).hexdigest()
        return f"user:{joined[:24]}"
    return None


class CredentialRateThrottle(BaseThrottle):
    """A request budget per API key or signed-in user (`STOCKROOM_API_RATE_LIMIT`), and per
    client address for requests without valid credentials
    (`STOCKROOM_API_ANONYMOUS_RATE_LIMIT`). Runs before authentication decides (see
    `MerchantAPIView.initial`), so a wrong key is counted before it is refused. Refusals are
    429 with Retry-After; every answer says the budget in RateLimit-* headers."""

    def allow_request(self, request, view) -> bool:
        spent = getattr(request, "budget_spent", None)
        if spent is not None:  # a view that answers without DRF's request spent it already
            request.rate_limit = spent
            return True
        try:
            ident = credential_ident(request)
        except exceptions.AuthenticationFailed:
            self._decide(request, f"addr:{self.get_ident(request)}", anonymous=True)
            raise
        if ident is None:
            return self._decide(request, f"addr:{self.get_ident(request)}", anonymous=True)
        return self._decide(request, ident, anonymous=False)

    def _decide(self, request, ident: str, *, anonymous: bool) -> bool:
        rate = (
            settings.STOCKROOM_API_ANONYMOUS_RATE_LIMIT
            if anonymous
            else settings.STOCKROOM_API_RATE_LIMIT
        )
        if not rate:
            return True
        decision = budgets.take(ident, rate)
        request.rate_limit = decision
        if not decision.allowed:
            self._wait = decision.retry_after
            if anonymous:  # raise now, before authentication answers 401 instead
                raise exceptions.Throttled(wait=decision.retry_after)
        return decision.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", 1)


def rate_limit_headers(request) -> dict[str, str]:
    """The RateLimit-* headers for the budget the request was decided against (none when no
    budget applied)."""
    return decision_headers(getattr(request, "rate_limit", None))


def decision_headers(decision: Decision | None) -> dict[str, str]:
    if decision is None:
        return {}
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset),
    }
