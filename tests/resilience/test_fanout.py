"""Events once per subscriber with every tier doubled: two web processes behind nginx, two Celery
workers dispatching the outbox, websocket subscribers on both web processes, a raw channel-layer
receiver and a partner webhook. Stock changes arrive concurrently through nginx."""

import threading
from collections import Counter, defaultdict

import pytest

from apps.apikeys.services import api_key_create
from apps.events.groups import merchant_group
from apps.inventory.models import OutboxEvent
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests import factories
from tests.realstack import webhook_receiver
from tests.resilience.servers import (
    current_database_url,
    django_env,
    load_balancer,
    wait_for,
    web_server,
)
from tests.resilience.streams import RECEIVE_TIMEOUT, Api, GroupReceiver, Stream, event_worker

pytestmark = [pytest.mark.servers, pytest.mark.timeout(240)]
WRITERS = 6
RECEIPTS_PER_WRITER = 6


def event_ids_until(next_id, last: int) -> list[int]:
    received = []
    while not received or received[-1] != last:
        received.append(next_id())
    return received


@pytest.mark.django_db(transaction=True)
def test_each_subscriber_gets_each_event_once_with_every_process_doubled(
    private_redis, workdir, processes, merchant, location
):
    products = [factories.product(merchant) for _ in range(3)]
    _, key = api_key_create(merchant=merchant, name="fan-out")
    env = django_env(
        DATABASE_URL=current_database_url(),
        REDIS_URL=private_redis.url,
        STOCKROOM_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",  # the partner below is on loopback
    )
    web_ports, ws_ports = [], []
    for _ in range(2):
        web, port = web_server(env, workdir)
        processes.append(web)
        web_ports.append(port)
        ws_ports.append(web.ws_port)
    nginx, nginx_port = load_balancer(web_ports, workdir, ws_ports)
    processes.append(nginx)
    for n in range(2):
        processes.append(event_worker(env, workdir, f"dispatcher-{n}"))
    api = Api(f"http://127.0.0.1:{nginx_port}", key)

    streams = [Stream(port, key) for port in ws_ports for _ in range(2)]
    raw = GroupReceiver(private_redis.url, merchant_group(merchant.pk))
    with webhook_receiver([200]) as partner:
        WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", url=partner.url, event_types=["stock.changed"]
        )
        failures: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(RECEIPTS_PER_WRITER):
                    api.receive(products[(n + i) % len(products)].sku, location.code, 1)
            except BaseException as error:
                failures.append(error)

        writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        assert failures == []
        wait_for(
            lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(),
            RECEIVE_TIMEOUT,
            "the workers to publish the outbox",
        )
        # Everything before this change is published: whatever a subscriber receives before
        # its event is all it will ever get of the others.
        last = api.receive(products[0].sku, location.code, 1)["levels"][0]
        wait_for(
            lambda: (
                WebhookDelivery.objects.filter(status="succeeded").count()
                == OutboxEvent.objects.count()
            ),
            RECEIVE_TIMEOUT,
            "every webhook to be delivered",
        )
    events = list(OutboxEvent.objects.order_by("id").select_related("ledger_entry"))
    assert len(events) == WRITERS * RECEIPTS_PER_WRITER + 1
    assert events[-1].ledger_entry_id == last["ledger_id"]
    everything = Counter(event.pk for event in events)

    received = event_ids_until(raw.next_event_id, events[-1].pk)
    assert Counter(received) == everything  # the two workers published each event once
    for stream in streams:
        seen = event_ids_until(lambda s=stream: s.next_event()["id"], events[-1].pk)
        assert Counter(seen) == everything
        versions = defaultdict(list)  # per stock level, in the order the stream sent them
        by_id = {event.pk: event.ledger_entry for event in events}
        for event_id in seen:
            versions[by_id[event_id].stock_level_id].append(by_id[event_id].version_after)
        assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
        stream.close()
    assert sorted(versions) == sorted({e.ledger_entry.stock_level_id for e in events})

    delivered = Counter(request.headers["Stockroom-Event-Id"] for request in partner.requests)
    assert delivered == Counter(f"event:{event_id}" for event_id in everything)
