"""One Redis connection pool per process and URL.

Under ASGI, Django builds a fresh cache object for every request (caches are context-local), and
with it a fresh redis-py connection pool: every request would open a new TCP connection to
Redis. Handing Django's Redis cache this pool class keeps one pool per process instead (redis-py
pools are thread-safe and start over after a fork).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

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


class FastPath:
    """A process-wide Redis client for an optional fast path (cache reads, rate limits), with a
    short timeout and a backoff: after an error the path reports Redis as away for
    `backoff_seconds`, so callers take their fallback without waiting on timeouts every time.

    `client()` is None when `REDIS_URL` is not set or during the backoff.
    """

    def __init__(self, name: str, *, timeout: float = 0.1, backoff_seconds: float = 1.0) -> None:
        self.name = name
        self.timeout = timeout
        self.backoff_seconds = backoff_seconds
        self.down_until = 0.0
        self._clients: dict[str, redis.Redis] = {}
        self._scripts: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()

    def client(self) -> redis.Redis | None:
        url = settings.REDIS_URL
        if not url or time.monotonic() < self.down_until:
            return None
        found = self._clients.get(url)
        if found is None:
            with self._lock:
                found = self._clients.get(url)
                if found is None:
                    pool = SharedConnectionPool.from_url(
                        url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
                    )
                    found = self._clients[url] = redis.Redis(connection_pool=pool)
        return found

    def script(self, client: redis.Redis, source: str) -> Any:
        """`source` registered on `client` (EVALSHA, loaded again by redis-py if Redis lost it),
        once per client and script."""
        key = (id(client), source)
        found = self._scripts.get(key)
        if found is None:
            found = self._scripts[key] = client.register_script(source)
        return found

    def failed(self, error: Exception) -> None:
        self.down_until = time.monotonic() + self.backoff_seconds
        logger.warning("Redis unreachable for the %s, falling back: %s", self.name, error)
