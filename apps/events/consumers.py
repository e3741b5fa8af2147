"""`ws/stock/`: a live stream of one merchant's events.

Connect with the session cookie or an API key (see `apps.events.auth`). Query parameters:
`merchant` (id or code; needed when the user belongs to several), `locations` and `skus`
(comma-separated; empty = all the access allows) and `since` (an event id: events after it
are replayed from the outbox before live ones). Messages the client may send:
`{"action": "subscribe", "locations": [...], "skus": [...]}`, `{"action": "resume",
"since": <id>}`, `{"action": "ping"}`.

Events are JSON documents `{"id", "type", "occurred_at", "data"}`. Per stock level the stream
never goes backwards: an event whose version is not newer than one already sent is dropped,
which also removes the overlap between a replay and the live feed. A live event that skips a
version (lost or overtaken on the way) makes the stream replay the gap from the outbox first.

While the channel layer (Redis) is unreachable no live event can be delivered: open streams are
closed with 1013 (try again later) and new ones refused at the handshake. Clients reconnect with
`since` set to the last event id they received and miss nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core import json_nesting
from apps.events import auth
from apps.events.access import StreamAccess, resolve_locations, stream_access
from apps.events.groups import CHANNEL_LAYER_DOWN, location_group, merchant_group
from apps.events.selectors import REPLAY_LIMIT, events_since, latest_event_id
from apps.inventory.outbox import STOCK_CHANGED

logger = logging.getLogger(__name__)

SUBPROTOCOL = "stockroom"
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN_LATER = 1013  # the channel layer is unreachable
MAX_SKUS = 500
# How often an open stream checks that its key, session and membership still hold.
ACCESS_RECHECK_SECONDS = 60


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


class StockConsumer(AsyncJsonWebsocketConsumer):
    access: StreamAccess | None = None
    groups_joined: tuple[str, ...] = ()
    location_ids: frozenset[int] | None = None
    skus: frozenset[str] | None = None

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except CHANNEL_LAYER_DOWN:
            # Redis went away: no live event can reach this stream any more. End it so the
            # client reconnects and resumes from its last event id once Redis is back.
            logger.warning("Websocket closed: the channel layer is unreachable")
            with contextlib.suppress(Exception):  # the client may be gone too
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def connect(self) -> None:
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        merchant = (params.get("merchant") or [None])[0]
        self.merchant_param, self.checked_at = merchant, time.monotonic()
        self.access = await database_sync_to_async(stream_access)(
            user=self.scope.get("user"), api_key=self.scope.get("api_key"), merchant=merchant
        )
        subscription = None
        if self.access is not None:
            subscription = await self._resolve(
                _split(params.get("locations")), _split(params.get("skus"))
            )
        if subscription is None:
            await self.close(code=CLOSE_FORBIDDEN)  # refuses the handshake
            return
        # Per stock level: the last version sent and the id of the event that carried it.
        self.versions: dict[int, tuple[int, int]] = {}
        try:
            await self._join(*subscription)
        except CHANNEL_LAYER_DOWN:
            # Refused before the handshake completes, so the client backs off between tries
            # (an accepted stream that drops at once looks like a success to a browser).
            logger.warning("Websocket refused: the channel layer is unreachable")
            await self.close()
            return
        offered = self.scope.get("subprotocols", [])
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await self._announce()
        since = (params.get("since") or [""])[0]
        if since.isdigit():
            await self._replay(int(since))

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json_nesting.loads(text_data)
        except ValueError:
            return None  # answered as a malformed action (too deep a message included)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action == "subscribe":
            locations = [str(v) for v in content.get("locations") or []]
            skus = [str(v) for v in content.get("skus") or []]
            subscription = await self._resolve(locations, skus)
            if subscription is None:
                await self.send_json(
                    {"type": "error", "message": "Unknown or forbidden location, or too many SKUs."}
                )
            else:
                await self._subscribe(*subscription)
        elif action == "resume" and isinstance(content.get("since"), int):
            await self._replay(content["since"])
        else:
            await self.send_json({"type": "error", "message": "Unknown or malformed action."})

    async def _resolve(
        self, locations: list[str], skus: list[str]
    ) -> tuple[frozenset[int] | None, frozenset[str] | None] | None:
        """The (locations, skus) of a subscription, or None when it is not allowed."""
        resolved = await database_sync_to_async(resolve_locations)(self.access, locations)
        if resolved is False or len(skus) > MAX_SKUS:
            return None
        return resolved, frozenset(skus) or None

    async def _subscribe(
        self, location_ids: frozenset[int] | None, skus: frozenset[str] | None
    ) -> None:
        await self._join(location_ids, skus)
        await self._announce()

    async def _join(self, location_ids: frozenset[int] | None, skus: frozenset[str] | None) -> None:
        merchant_id = self.access.merchant_id
        if location_ids is None:
            groups = (merchant_group(merchant_id),)
        else:
            groups = tuple(location_group(merchant_id, pk) for pk in sorted(location_ids))
        for group in set(self.groups_joined) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined, self.location_ids, self.skus = groups, location_ids, skus

    async def _announce(self) -> None:
        merchant_id, location_ids, skus = self.access.merchant_id, self.location_ids, self.skus
        latest = await database_sync_to_async(latest_event_id)(merchant_id)
        await self.send_json(
            {
                "type": "subscribed",
                "merchant_id": merchant_id,
                "locations": sorted(location_ids) if location_ids is not None else None,
                "skus": sorted(skus) if skus else None,
                "latest_event_id": latest,
            }
        )

    async def _replay(self, since: int) -> None:
        events = await database_sync_to_async(events_since)(
            merchant_id=self.access.merchant_id,
            since=since,
            location_ids=self.location_ids,
            skus=self.skus,
            limit=REPLAY_LIMIT + 1,
        )
        if len(events) > REPLAY_LIMIT:
            # Too far behind to catch up event by event: the client reloads its snapshot.
            await self.send_json({"type": "resync", "since": since})
            return
        sent = [event for event in events if await self._send_event(event)]
        await self.send_json(
            {"type": "replayed", "since": since, "count": len(sent),
             "last_id": events[-1]["id"] if events else since}
        )  # fmt: skip

    def _wanted(self, event: dict[str, Any]) -> bool:
        if event.get("merchant_id") != self.access.merchant_id:
            return False
        data = event.get("data", {})
        if self.location_ids is not None and data.get("location_id") not in self.location_ids:
            return False
        return not (self.skus and data.get("sku") is not None and data["sku"] not in self.skus)

    async def _send_event(self, event: dict[str, Any]) -> bool:
        """Send one event if this subscription wants it and it is newer than what was sent."""
        if not self._wanted(event):
            return False
        data = event.get("data", {})
        if event.get("type") == STOCK_CHANGED:
            level, version = data["stock_level_id"], data["version"]
            if version <= self.versions.get(level, (-1, 0))[0]:
                return False  # stale or already sent
            self.versions[level] = (version, event["id"])
        await self.send_json(event)
        return True

    def _current_access(self) -> StreamAccess | None:
        api_key = self.scope.get("api_key")
        if api_key is not None:
            return stream_access(
                user=None,
                api_key=auth.authenticate_key(auth.raw_key_from_scope(self.scope) or ""),
                merchant=self.merchant_param,
            )
        session = self.scope.get("session")
        if session is None or not session.exists(session.session_key):
            return None  # signed out
        user = self.scope["user"]
        user.refresh_from_db(fields=["is_active"])
        return stream_access(user=user, api_key=None, merchant=self.merchant_param)

    async def _access_holds(self) -> bool:
        """Re-check, at most once per ACCESS_RECHECK_SECONDS, that the key is not revoked, the
        session not ended and the membership not narrowed; close the stream otherwise."""
        if time.monotonic() - self.checked_at < ACCESS_RECHECK_SECONDS:
            return True
        self.checked_at = time.monotonic()
        access = await database_sync_to_async(self._current_access)()
        if access is not None and access.merchant_id == self.access.merchant_id:
            allowed = access.location_ids
            if allowed is None or (self.location_ids is not None and self.location_ids <= allowed):
                self.access = access
                return True
        await self.close(code=CLOSE_FORBIDDEN)
        return False

    # Channel-layer handlers (message "type" with dots -> underscores).
    async def stock_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if not self._wanted(event) or not await self._access_holds():
            return
        data = event.get("data", {})
        known = self.versions.get(data.get("stock_level_id"))
        if event.get("type") == STOCK_CHANGED and known and data["version"] > known[0] + 1:
            # A version is missing: dropped by a full channel, or still on its way from
            # another dispatcher. Every version has its event in the outbox: replay from the
            # last one sent for this level (the replay includes this event).
            await self._replay(known[1])
            return
        await self._send_event(event)

    async def alert_event(self, message: dict[str, Any]) -> None:
        if self._wanted(message["event"]) and await self._access_holds():
            await self._send_event(message["event"])
