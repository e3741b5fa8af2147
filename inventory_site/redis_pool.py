"""One Redis connection pool per process and URL.

Under ASGI, Django builds a fresh cache object for every request (caches are context-local), and
with it a fresh redis-py connection pool: every request would open a new TCP connection to
Redis. Handing Django's Redis cache this pool class keeps one pool per process instead (redis-py
pools are thread-safe and start over after a fork).
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_pools: dict[tuple[str, tuple[tuple[str, str], ...]], redis.ConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = redis.ConnectionPool.from_url(url, **kwargs)
        return pool
