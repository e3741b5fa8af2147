"""Cache access that never takes the product down with it.

The cache (Redis in production) only ever holds copies. When it is unreachable or slow these
helpers log, give up quickly (the client's socket timeouts are set in settings) and let the
caller fall back to the database: a stock write or an availability read never fails because
the cache did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from apps.core.redis_pool import FastPath

logger = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = object()
_counters = FastPath("cache counters")

# Connection, timeout and protocol errors of the Redis client, without importing it when the
# cache is in-process.
try:
    from redis.exceptions import RedisError as _RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (_RedisError, OSError)
except ImportError:  # pragma: no cover - redis is a dependency
    CACHE_ERRORS = (OSError,)


def safe_get(key: str, default: Any = None, *, alias: str = "default") -> Any:
    """The cached value, or `default` when it is missing or the cache is unreachable."""
    try:
        return caches[alias].get(key, default)
    except CACHE_ERRORS as error:
        logger.warning("cache get %s failed: %s", key, error)
        return default


def safe_set(key: str, value: Any, timeout: float | None = None, *, alias: str = "default") -> bool:
    """Store a copy; False (and nothing raised) when the cache is unreachable."""
    try:
        caches[alias].set(key, value, timeout)
    except CACHE_ERRORS as error:
        logger.warning("cache set %s failed: %s", key, error)
        return False
    return True


def safe_delete(key: str, *, alias: str = "default") -> bool:
    try:
        caches[alias].delete(key)
    except CACHE_ERRORS as error:
        logger.warning("cache delete %s failed: %s", key, error)
        return False
    return True


def safe_incr(key: str, delta: int = 1, *, alias: str = "default") -> int | None:
    """Add to a counter kept in the cache (created at 0, never expires); None when unreachable.
    On Redis one INCRBY (Django's `incr` checks the key exists first: two round trips, and a
    counter bumped by every refused reservation of a flash sale should cost one)."""
    cache = caches[alias]
    client = _counters.client() if isinstance(cache, RedisCache) else None
    if client is not None:
        try:
            return client.incrby(cache.make_and_validate_key(key), delta)
        except CACHE_ERRORS as error:
            _counters.failed(error)
            return None
    try:
        cache.add(key, 0, None)
        return cache.incr(key, delta)
    except ValueError:  # evicted between add and incr
        return None if not safe_set(key, delta, None, alias=alias) else delta
    except CACHE_ERRORS as error:
        logger.warning("cache incr %s failed: %s", key, error)
        return None


def cached_or_computed(
    key: str, compute: Callable[[], T], timeout: float | None, *, alias: str = "default"
) -> T:
    """Read-through: the cached copy when the cache answers, otherwise `compute()` (the
    database), stored back when the cache is reachable. Never raises a cache error."""
    value = safe_get(key, _MISSING, alias=alias)
    if value is not _MISSING:
        return value
    value = compute()
    safe_set(key, value, timeout, alias=alias)
    return value
