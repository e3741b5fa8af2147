"""The ws/stock/ stream through the real ASGI stack (origin check, session and API-key auth,
routing) with channels-redis."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client

from apps.events.groups import merchant_group
from apps.events.selectors import event_document
from apps.events.services import outbox_publish_pending
from apps.inventory import services
from apps.inventory.models import OutboxEvent
from inventory_site.asgi import application
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def stream(query: str = "", *, cookie=None, origin: str = "http://127.0.0.1", headers=(), **kw):
    all_headers = [(b"host", b"127.0.0.1")]
    if origin:
        all_headers.append((b"origin", origin.encode()))
    if cookie is not None:
        all_headers.append((b"cookie", f"sessionid={cookie}".encode()))
    all_headers.extend(headers)
    path = "/ws/stock/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=all_headers, **kw)


def change(product, location, quantity: int) -> None:
    """Receive (or ship, when negative) through the service, then publish the outbox."""
    line = [services.StockLine(product=product, location=location, quantity=abs(quantity))]
    operation = services.stock_receive if quantity > 0 else services.stock_ship
    operation(merchant=product.merchant, lines=line, actor=None, idempotency_key=factories.key())
    outbox_publish_pending()


def change_without_publishing(product, location, quantity: int) -> None:
    services.stock_receive(
        merchant=product.merchant,
        lines=[services.StockLine(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


async def connected(communicator) -> dict:
    ok, code = await communicator.connect()
    assert ok, f"refused with {code}"
    hello = await communicator.receive_json_from()
    assert hello["type"] == "subscribed"
    return hello


async def refused(communicator) -> int:
    ok, code = await communicator.connect()
    assert not ok
    return code


def run(scenario) -> None:
    async_to_sync(scenario)()


def test_anonymous_and_cross_site_connections_are_refused(merchant, owner):
    owner_cookie = session_cookie(owner)

    async def scenario():
        assert await refused(stream()) == 4403
        assert await refused(stream(cookie=owner_cookie, origin="https://evil.example")) in (
            403,
            1000,
        )

    run(scenario)


def test_a_member_streams_only_its_own_merchant(merchant, owner, product, location):
    stranger_merchant = factories.merchant()
    stranger = factories.user(stranger_merchant)
    theirs = factories.product(stranger_merchant)
    their_location = factories.location(stranger_merchant)

    owner_cookie = session_cookie(owner)
    stranger_cookie = session_cookie(stranger)

    async def scenario():
        hello = await connected(mine := stream(cookie=owner_cookie))
        assert hello["merchant_id"] == merchant.pk
        assert hello["locations"] is None
        await connected(other := stream(cookie=stranger_cookie))
        assert await refused(stream(f"merchant={merchant.code}", cookie=stranger_cookie)) == 4403

        await sync_to_async(change)(product, location, 4)
        event = await mine.receive_json_from()
        assert (event["type"], event["data"]["sku"], event["data"]["on_hand"]) == (
            "stock.changed", product.sku, 4,
        )  # fmt: skip
        assert await other.receive_nothing(timeout=0.3)

        await sync_to_async(change)(theirs, their_location, 2)
        assert (await other.receive_json_from())["data"]["sku"] == theirs.sku
        assert await mine.receive_nothing(timeout=0.3)
        # Even a message put on the wrong group never crosses tenants.
        layer = get_channel_layer()
        foreign = {"id": 999999, "type": "stock.changed", "merchant_id": stranger_merchant.pk,
                   "data": {"stock_level_id": 1, "version": 99, "location_id": their_location.pk}}  # fmt: skip
        await layer.group_send(
            merchant_group(merchant.pk), {"type": "stock.event", "event": foreign}
        )
        assert await mine.receive_nothing(timeout=0.3)
        await mine.disconnect()
        await other.disconnect()

    run(scenario)


def test_a_manager_sees_only_the_locations_they_work_on(
    merchant, product, location, other_location
):
    manager = factories.user(merchant, role="manager")
    manager.memberships.get().locations.set([location])

    manager_cookie = session_cookie(manager)

    async def scenario():
        assert (
            await refused(stream(f"locations={other_location.code}", cookie=manager_cookie)) == 4403
        )
        hello = await connected(ws := stream(cookie=manager_cookie))
        assert hello["locations"] == [location.pk]
        await sync_to_async(change)(product, other_location, 5)
        assert await ws.receive_nothing(timeout=0.3)
        await sync_to_async(change)(product, location, 3)
        assert (await ws.receive_json_from())["data"]["location_id"] == location.pk
        await ws.disconnect()

    run(scenario)


def test_subscriptions_by_location_and_sku(merchant, owner, location, other_location):
    wanted, unwanted = factories.product(merchant), factories.product(merchant)

    owner_cookie = session_cookie(owner)

    async def scenario():
        query = f"locations={location.pk}&skus={wanted.sku}"
        hello = await connected(ws := stream(query, cookie=owner_cookie))
        assert (hello["locations"], hello["skus"]) == ([location.pk], [wanted.sku])
        await sync_to_async(change)(unwanted, location, 1)
        await sync_to_async(change)(wanted, other_location, 1)
        await sync_to_async(change)(wanted, location, 2)
        event = await ws.receive_json_from()
        assert (event["data"]["sku"], event["data"]["location_id"]) == (wanted.sku, location.pk)
        assert await ws.receive_nothing(timeout=0.3)

        await ws.send_json_to({"action": "subscribe", "locations": [other_location.code]})
        assert (await ws.receive_json_from())["locations"] == [other_location.pk]
        await sync_to_async(change)(unwanted, other_location, 1)
        assert (await ws.receive_json_from())["data"]["sku"] == unwanted.sku
        await ws.send_json_to({"action": "ping"})
        assert await ws.receive_json_from() == {"type": "pong"}
        await ws.send_to(text_data="{not json")
        assert (await ws.receive_json_from())["type"] == "error"
        await ws.send_to(text_data="[" * 100_000)  # deeper than the decoder could recurse
        assert (await ws.receive_json_from())["type"] == "error"
        await ws.send_json_to({"action": "ping"})
        assert await ws.receive_json_from() == {"type": "pong"}
        await ws.disconnect()

    run(scenario)


def test_events_arrive_in_version_order_and_stale_ones_are_dropped(owner, product, location):
    owner_cookie = session_cookie(owner)

    async def scenario():
        await connected(ws := stream(cookie=owner_cookie))
        for quantity in (5, -2, 4):
            line = [services.StockLine(product=product, location=location, quantity=abs(quantity))]
            operation = services.stock_receive if quantity > 0 else services.stock_ship
            await sync_to_async(operation)(
                merchant=product.merchant, lines=line, actor=None, idempotency_key=factories.key()
            )
        await sync_to_async(outbox_publish_pending)()  # one batch of three
        events = [await ws.receive_json_from() for _ in range(3)]
        assert [e["data"]["version"] for e in events] == [1, 2, 3]
        assert [e["data"]["on_hand"] for e in events] == [5, 3, 7]
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)

        # A late duplicate of version 2 (e.g. from a concurrent dispatcher) is not sent.
        layer = get_channel_layer()
        await layer.group_send(
            merchant_group(product.merchant_id), {"type": "stock.event", "event": events[1]}
        )
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario)


def test_a_missing_version_is_filled_in_from_the_outbox(owner, product, location):
    for quantity in (4, 3, 2):
        change_without_publishing(product, location, quantity)
    first, second, third = (
        event_document(e) for e in OutboxEvent.objects.select_related("merchant").order_by("id")
    )
    owner_cookie = session_cookie(owner)

    async def scenario():
        await connected(ws := stream(cookie=owner_cookie))
        layer = get_channel_layer()
        group = merchant_group(product.merchant_id)
        await layer.group_send(group, {"type": "stock.event", "event": first})
        assert (await ws.receive_json_from())["data"]["version"] == 1
        # Version 2 never arrives live; version 3 does.
        await layer.group_send(group, {"type": "stock.event", "event": third})
        assert [(await ws.receive_json_from())["data"]["version"] for _ in range(2)] == [2, 3]
        assert (await ws.receive_json_from())["type"] == "replayed"
        await layer.group_send(group, {"type": "stock.event", "event": second})  # late
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario)


def test_resume_replays_the_events_missed_while_disconnected(owner, product, location):
    change(product, location, 10)
    first_id = OutboxEvent.objects.get().pk
    change(product, location, -3)
    change(product, location, -1)

    owner_cookie = session_cookie(owner)

    async def scenario():
        await connected(ws := stream(f"since={first_id}", cookie=owner_cookie))
        replayed = [await ws.receive_json_from() for _ in range(2)]
        assert [e["data"]["on_hand"] for e in replayed] == [7, 6]
        assert [e["data"]["reason"] for e in replayed] == ["sale", "sale"]
        done = await ws.receive_json_from()
        assert (done["type"], done["count"], done["last_id"]) == ("replayed", 2, replayed[-1]["id"])

        # Asking again from the start never sends a level backwards, nor anything twice.
        await ws.send_json_to({"action": "resume", "since": 0})
        again = await ws.receive_json_from()
        assert (again["type"], again["count"]) == ("replayed", 0)
        await sync_to_async(change)(product, location, 5)
        assert (await ws.receive_json_from())["data"]["on_hand"] == 11
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize("transport", ["bearer", "subprotocol", "query"])
def test_api_key_transports_reach_the_key_check(
    monkeypatch, merchant, product, location, transport
):
    raw = "sk_test_0123456789"
    seen = []

    def authenticate(candidate):
        seen.append(candidate)
        return SimpleNamespace(merchant=merchant, read_only=True) if candidate == raw else None

    monkeypatch.setattr("apps.events.auth.authenticate_key", authenticate)
    options = {
        "bearer": {"headers": [(b"authorization", f"Bearer {raw}".encode())]},
        "subprotocol": {"subprotocols": ["stockroom", f"stockroom.key.{raw}"]},
        "query": {"query": f"key={raw}"},
    }[transport]

    async def scenario():
        ws = stream(options.pop("query", ""), origin="", **options)
        ok, subprotocol = await ws.connect()
        assert ok
        assert (await ws.receive_json_from())["merchant_id"] == merchant.pk
        if transport == "subprotocol":
            assert subprotocol == "stockroom"
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_json_from())["data"]["sku"] == product.sku
        await ws.disconnect()
        wrong = stream("key=sk_wrong", origin="")
        assert await refused(wrong) == 4403

    run(scenario)
    assert seen[0] == raw


def test_a_stream_closes_once_its_key_is_revoked(monkeypatch, merchant, product, location):
    valid = {"sr_live"}
    monkeypatch.setattr(
        "apps.events.auth.authenticate_key",
        lambda raw: SimpleNamespace(merchant=merchant) if raw in valid else None,
    )
    monkeypatch.setattr("apps.events.consumers.ACCESS_RECHECK_SECONDS", 0)

    async def scenario():
        await connected(ws := stream("key=sr_live", origin=""))
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_json_from())["data"]["on_hand"] == 1
        valid.clear()  # revoked
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_output())["type"] == "websocket.close"

    run(scenario)


def test_a_stream_closes_when_its_session_ends(monkeypatch, owner, product, location):
    monkeypatch.setattr("apps.events.consumers.ACCESS_RECHECK_SECONDS", 0)
    owner_cookie = session_cookie(owner)

    async def scenario():
        await connected(ws := stream(cookie=owner_cookie))
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_json_from())["data"]["on_hand"] == 1
        await sync_to_async(Session.objects.filter(session_key=owner_cookie).delete)()  # signed out
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_output())["type"] == "websocket.close"

    run(scenario)


@pytest.mark.skipif(
    importlib.util.find_spec("apps.apikeys") is None, reason="the API key app is not installed"
)
def test_a_real_api_key_streams_its_own_merchant_until_revoked(
    monkeypatch, merchant, other_merchant, product, location
):
    from apps.apikeys.services import api_key_create, api_key_revoke

    api_key, raw = api_key_create(merchant=merchant, name="stream", read_only=True)
    monkeypatch.setattr("apps.events.consumers.ACCESS_RECHECK_SECONDS", 0)
    bearer = [(b"authorization", f"Bearer {raw}".encode())]

    async def scenario():
        hello = await connected(ws := stream(origin="", headers=bearer))
        assert hello["merchant_id"] == merchant.pk
        assert await refused(stream(f"merchant={other_merchant.code}", origin="", headers=bearer))
        await sync_to_async(change)(product, location, 2)
        assert (await ws.receive_json_from())["data"]["on_hand"] == 2
        await sync_to_async(api_key_revoke)(api_key=api_key)
        await sync_to_async(change)(product, location, 1)
        assert (await ws.receive_output())["type"] == "websocket.close"
        assert await refused(stream(origin="", headers=bearer)) == 4403

    run(scenario)
