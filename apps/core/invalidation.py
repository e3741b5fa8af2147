"""Invalidation messages for per-process caches, over one Redis pub/sub channel.

A process that caches derived data in memory (availability figures) must drop an entry as soon
as any process commits a change to what it was derived from. Writers publish the names of what
changed ("p:42" for product 42) after their commit; every process runs one listener thread
subscribed to the channel, which records, per name, the sequence number of the last message
that named it.

A reader takes a `Token` *before* it fetches what it will cache, and an entry stays valid while
no message has named any of its sources since that token (`valid`). Because the writer's
change is visible in Redis and the database before it publishes, a message the listener has
already processed when the token was taken concerns data the fetch will see; one processed
later invalidates the entry. While the listener is not subscribed (Redis away, reconnecting)
there is no token and callers skip their local cache; every (re)subscription starts a new epoch,
so entries cached before a gap in the messages are never served after it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
PING_SECONDS = 2.0  # a silent Redis is noticed within about 2 x this
MAX_NAMES = 200_000  # names remembered; beyond it the listener starts a new epoch


@dataclass(frozen=True, slots=True)
class Token:
    epoch: int
    seq: int


class InvalidationChannel:
    """One pub/sub channel of invalidation messages, and this process's listener on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._seq = 0
        self._epoch = 0
        self._live = False
        self._last: dict[str, int] = {}
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def channel(self) -> str:
        return f"{settings.STOCKROOM_REDIS_PREFIX}:invalidate:{self.name}"

    @property
    def client_name(self) -> str:
        """The listener's connection name (CLIENT LIST shows it)."""
        return f"{settings.STOCKROOM_REDIS_PREFIX}-invalidation-{self.name}-{os.getpid()}"

    def token(self) -> Token | None:
        """Where the messages stand now, or None while this process is not listening (the
        listener thread is started on first use)."""
        if self._pid != os.getpid():
            self._start()
        if not self._live:
            return None
        return Token(self._epoch, self._seq)

    def valid(self, token: Token, names: tuple[str, ...]) -> bool:
        """No message has named any of `names` since `token`, and none can have been missed."""
        if not self._live or token.epoch != self._epoch:
            return False
        last = self._last
        return all(last.get(name, 0) <= token.seq for name in names)

    def publish(self, pipe: redis.client.Pipeline, names: list[str]) -> None:
        """Queue the message naming `names` on `pipe` (the writer's own round trip)."""
        if names:
            pipe.publish(self.channel, " ".join(names))

    def applied(self, names: list[str]) -> None:
        """Record a message in this process without Redis (the writer's own process sees its
        change at once, and tests can drive the listener)."""
        self._seq += 1
        if len(self._last) + len(names) > MAX_NAMES:
            self._new_epoch()
        for name in names:
            self._last[name] = self._seq

    def _new_epoch(self) -> None:
        self._epoch += 1
        self._last = {}

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid() or not settings.REDIS_URL:
                return
            self._pid = os.getpid()
            self._live = False
            self._new_epoch()
            thread = threading.Thread(
                target=self._listen, args=(settings.REDIS_URL,), daemon=True,
                name=f"invalidation-{self.name}",
            )  # fmt: skip
            thread.start()

    def _listen(self, url: str) -> None:
        while True:
            try:
                client = redis.Redis.from_url(
                    url, socket_connect_timeout=2, client_name=self.client_name
                )
                self._subscribed(client)
            except Exception as error:  # Redis away: callers skip their local caches until back
                if self._live:
                    logger.warning("Invalidation listener %s lost Redis: %s", self.name, error)
            self._live = False
            time.sleep(RECONNECT_SECONDS)

    def _subscribed(self, client: redis.Redis) -> None:
        """Apply messages until the connection fails or stops answering pings (a Redis that
        hangs rather than closes must not leave the listener looking live)."""
        pubsub = client.pubsub()
        pubsub.subscribe(self.channel)
        last_pong = last_ping = time.monotonic()
        try:
            while True:
                message = pubsub.get_message(timeout=PING_SECONDS / 2)
                now = time.monotonic()
                if message is not None:
                    kind = message["type"]
                    if kind == "subscribe":
                        self._new_epoch()  # what was cached before may have missed messages
                        self._live = True
                    elif kind == "message":
                        self.applied(message["data"].decode().split())
                    elif kind == "pong":
                        last_pong = now
                if now - last_ping >= PING_SECONDS:
                    pubsub.ping()
                    last_ping = now
                if now - last_pong > 2 * PING_SECONDS + 1:
                    raise TimeoutError("Redis stopped answering pings")
        finally:
            pubsub.close()
