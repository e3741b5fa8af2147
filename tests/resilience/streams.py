"""Clients of the running servers for the multi-process event tests: the REST API over HTTP,
the `ws/stock/` stream over a real websocket, a plain member of a channel-layer group, and a
Celery worker that dispatches the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.resilience.servers import Process

# Long enough for a worker to start or reconnect to its broker and publish; a test that waits
# this long has failed.
RECEIVE_TIMEOUT = 45


def event_worker(env: dict[str, str], workdir: Path, name: str) -> Process:
    """A Celery worker as production runs it (the outbox dispatch, webhooks), one task at a
    time, without the cluster chatter the tests do not need."""
    return Process(
        [sys.executable, "-m", "celery", "-A", "inventory_site", "worker", "--pool", "solo",
         "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "INFO"],
        env, workdir / f"{name}.log",
    )  # fmt: skip


class Api:
    """The merchant API of one base URL, with an API key."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> requests.Response:
        return self.session.post(
            f"{self.base}/api/v1/{path}",
            json=body,
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
            timeout=30,
        )

    def receive(self, sku: str, location: str, quantity: int) -> dict[str, Any]:
        response = self.post(
            "stock/receipts/", {"sku": sku, "location": location, "quantity": quantity}
        )
        assert response.status_code == 201, response.text
        return response.json()


class Stream:
    """One websocket subscriber of `ws/stock/`, authenticated by API key."""

    def __init__(self, port: int, key: str, since: int | None = None) -> None:
        query = f"key={key}" + (f"&since={since}" if since is not None else "")
        self._stack = contextlib.ExitStack()
        self.socket: ClientConnection = self._stack.enter_context(
            connect(f"ws://127.0.0.1:{port}/ws/stock/?{query}", open_timeout=RECEIVE_TIMEOUT)
        )
        self.subscribed = self.next()
        assert self.subscribed["type"] == "subscribed", self.subscribed

    def next(self) -> dict[str, Any]:
        return json.loads(self.socket.recv(timeout=RECEIVE_TIMEOUT))

    def next_event(self) -> dict[str, Any]:
        """The next stock event (skipping the stream's own notices, which the caller checks
        where they matter)."""
        while True:
            message = self.next()
            if message["type"] == "stock.changed":
                return message

    def events(self, count: int) -> list[dict[str, Any]]:
        return [self.next_event() for _ in range(count)]

    def send(self, message: dict[str, Any]) -> None:
        self.socket.send(json.dumps(message))

    def wait_closed(self) -> int | None:
        """Wait until the server ends the stream (whatever it sends before); the close code it
        sent, None when it dropped the connection without one."""
        try:
            while True:
                self.socket.recv(timeout=RECEIVE_TIMEOUT)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    def close(self) -> None:
        self._stack.close()


class GroupReceiver:
    """A plain member of a channel-layer group: sees every publish as it is, with nothing
    dropped or deduplicated by a websocket consumer."""

    def __init__(self, url: str, group: str) -> None:
        self.layer = RedisChannelLayer(
            hosts=[url], prefix=f"{settings.STOCKROOM_REDIS_PREFIX}:asgi"
        )
        self.channel = async_to_sync(self._join)(group)

    async def _join(self, group: str) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(group, channel)
        return channel

    def next_event_id(self) -> int:
        async def receive() -> dict:
            return await asyncio.wait_for(self.layer.receive(self.channel), RECEIVE_TIMEOUT)

        return async_to_sync(receive)()["event"]["id"]
