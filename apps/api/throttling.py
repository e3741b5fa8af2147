"""The API's request budget: a sliding-window counter per credential, one Redis round trip.

DRF's `SimpleRateThrottle` keeps every request's timestamp in one cache value, read and written
back whole on each request: two round trips, and a value that grows with the rate (at a limit of
100,000/min it pickles up to 100,000 floats per request). Here each credential has one counter
per window; a request increments the current window's counter and reads the previous one in a
single Lua call, and the estimate weights the previous window by how much of it still overlaps
the last `duration` seconds (the usual sliding-window counter, within a few percent of exact).

Without Redis (the embedded defaults) the counters live in Django's cache. If Redis fails the
request is let through: a rate limit must never take the API down with it.
"""

from __future__ import annotations

import math
import time

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from apps.apikeys.models import ApiKey
from apps.core.redis_pool import FastPath

_COUNT = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {current, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

redis_path = FastPath("API rate limit")


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1200/min" -> (1200, 60)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


def _counts(key: str, window: int, duration: int) -> tuple[int, int] | None:
    """(this window's count including this request, the previous window's), or None when the
    counters are out of reach."""
    current_key, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
    if not settings.REDIS_URL:
        cache.add(current_key, 0, timeout=2 * duration)
        return cache.incr(current_key), cache.get(previous_key, 0)
    client = redis_path.client()
    if client is None:  # Redis failed moments ago: let the request through
        return None
    try:
        current, previous = redis_path.script(client, _COUNT)(
            keys=[current_key, previous_key], args=[2 * duration]
        )
    except redis.RedisError as error:
        redis_path.failed(error)
        return None
    return int(current), int(previous)


class CredentialRateThrottle(BaseThrottle):
    """A request budget per API key (or per signed-in user, or per address when anonymous).
    The rate is `STOCKROOM_API_RATE_LIMIT` (e.g. "1200/min"); refusals are 429 with
    Retry-After. While the counters are unreachable requests are let through unmetered, so a
    Redis outage never refuses a stock write."""

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return f"throttle:api:{ident}"

    def allow_request(self, request, view) -> bool:
        rate = settings.STOCKROOM_API_RATE_LIMIT
        if not rate:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window, into = divmod(now, duration)
        counts = _counts(self.get_cache_key(request, view), int(window), duration)
        if counts is None:
            return True
        current, previous = counts
        estimate = previous * (1 - into / duration) + current
        if estimate <= limit:
            return True
        # Wait until the previous window's weight has shrunk enough, or this window ends.
        if current <= limit and previous:
            needed = (estimate - limit) / previous * duration
            self._wait = min(needed, duration - into)
        else:
            self._wait = duration - into
        return False

    def wait(self) -> float | None:
        return math.ceil(getattr(self, "_wait", 1.0))
