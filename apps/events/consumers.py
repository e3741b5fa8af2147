"""`ws/stock/`: a live stream of one merchant's events.

Connect with the session cookie or an API key (see `apps.events.auth`). Query parameters:
`merchant` (id or code; needed when the user belongs to several), `locations` and `skus`
(comma-separated; empty = all the access allows) and `since` (an event id: events after it
are replayed from the outbox before live ones). Messages the client may send:
`{"action": "subscribe", "locations": [...], "skus": [...]}`, `{"action": "resume",
"since": <id>}`, `{"action": "ping"}`.

Events are JSON documents `{"id", "type", "occurred_at", "data"}`. Per stock level the stream
never goes backwards: an event whose version is not newer than one already sent is dropped,
which also removes the overlap between a replay and the live feed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.events.access import StreamAccess, resolve_locations, stream_access
from apps.events.groups import location_group, merchant_group
from apps.events.selectors import REPLAY_LIMIT, events_since, latest_event_id

SUBPROTOCOL = "stockroom"
CLOSE_FORBIDDEN = 4403
MAX_SKUS = 500


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


class StockConsumer(AsyncJsonWebsocketConsumer):
    access: StreamAccess | None = None
    groups_joined: tuple[str, ...] = ()
    location_ids: frozenset[int] | None = None
    skus: frozenset[str] | None = None

    async def connect(self) -> None:
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        merchant = (params.get("merchant") or [None])[0]
        self.access = await database_sync_to_async(stream_access)(
            user=self.scope.get("user"), api_key=self.scope.get("api_key"), merchant=merchant
        )
        if self.access is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.versions: dict[int, int] = {}
        offered = self.scope.get("subprotocols", [])
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if not await self._subscribe(_split(params.get("locations")), _split(params.get("skus"))):
            return
        since = (params.get("since") or [""])[0]
        if since.isdigit():
            await self._replay(int(since))

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action == "subscribe":
            locations = [str(v) for v in content.get("locations") or []]
            skus = [str(v) for v in content.get("skus") or []]
            await self._subscribe(locations, skus)
        elif action == "resume" and isinstance(content.get("since"), int):
            await self._replay(content["since"])
        else:
            await self.send_json({"type": "error", "message": "Unknown or malformed action."})

    async def _subscribe(self, locations: list[str], skus: list[str]) -> bool:
        access = self.access
        resolved = await database_sync_to_async(resolve_locations)(access, locations)
        if resolved is False or len(skus) > MAX_SKUS:
            await self.send_json(
                {"type": "error", "message": "Unknown or forbidden location, or too many SKUs."}
            )
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        if resolved is None:
            groups = (merchant_group(access.merchant_id),)
        else:
            groups = tuple(location_group(access.merchant_id, pk) for pk in sorted(resolved))
        for group in set(self.groups_joined) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined, self.location_ids = groups, resolved
        self.skus = frozenset(skus) or None
        latest = await database_sync_to_async(latest_event_id)(access.merchant_id)
        await self.send_json(
            {
                "type": "subscribed",
                "merchant_id": access.merchant_id,
                "locations": sorted(resolved) if resolved is not None else None,
                "skus": sorted(self.skus) if self.skus else None,
                "latest_event_id": latest,
            }
        )
        return True

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
        for event in events:
            await self._send_event(event)
        await self.send_json(
            {"type": "replayed", "since": since, "count": len(events),
             "last_id": events[-1]["id"] if events else since}
        )  # fmt: skip

    def _wanted(self, event: dict[str, Any]) -> bool:
        data = event.get("data", {})
        if self.location_ids is not None and data.get("location_id") not in self.location_ids:
            return False
        return not (self.skus and data.get("sku") is not None and data["sku"] not in self.skus)

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event.get("merchant_id") != self.access.merchant_id or not self._wanted(event):
            return
        data = event.get("data", {})
        if event.get("type") == "stock.changed":
            level, version = data["stock_level_id"], data["version"]
            if version <= self.versions.get(level, -1):
                return  # stale or already sent
            self.versions[level] = version
        await self.send_json(event)

    # Channel-layer handlers (message "type" with dots -> underscores).
    async def stock_event(self, message: dict[str, Any]) -> None:
        await self._send_event(message["event"])

    async def alert_event(self, message: dict[str, Any]) -> None:
        await self._send_event(message["event"])
