"""A live stream across a Redis outage, with real processes: a web server (uvicorn) and a Celery
worker on a private Redis that the test stops and starts again. Subscribers are dropped when the
channel layer goes and refused until it returns; stock changes through the API keep working;
a subscriber that reconnects with the last event id it saw gets exactly the events it missed,
then the live ones."""

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus

from apps.apikeys.services import api_key_create
from apps.events.consumers import CLOSE_TRY_AGAIN_LATER
from apps.inventory import services
from apps.inventory.models import OutboxEvent, StockLevel
from tests import factories
from tests.dashboard.test_browser import CHROMIUM_ARGS, in_thread, open_dashboard
from tests.resilience.servers import current_database_url, django_env, wait_for, web_server
from tests.resilience.streams import Api, Stream, event_worker

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]


def ids(events: list[dict]) -> list[int]:
    return [event["id"] for event in events]


@pytest.mark.django_db(transaction=True)
def test_subscribers_resume_after_a_redis_outage_without_gaps_or_duplicates(
    private_redis, workdir, processes, merchant, product, location
):
    _, key = api_key_create(merchant=merchant, name="stream")
    env = django_env(DATABASE_URL=current_database_url(), REDIS_URL=private_redis.url)
    web, port = web_server(env, workdir)
    processes.append(web)
    processes.append(event_worker(env, workdir, "dispatcher"))
    api = Api(f"http://127.0.0.1:{port}", key)
    receive = (product.sku, location.code)

    by_query, by_action = Stream(web.ws_port, key), Stream(web.ws_port, key)
    api.receive(*receive, 3)
    api.receive(*receive, 4)
    seen = by_query.events(2)
    assert by_action.events(2) == seen
    assert [e["data"]["on_hand"] for e in seen] == [3, 7]

    private_redis.stop()
    # The channel layer is gone: the server ends both streams ("try again later"), so their
    # clients reconnect; until Redis is back it refuses the handshake, so they back off.
    assert by_query.wait_closed() == CLOSE_TRY_AGAIN_LATER
    assert by_action.wait_closed() == CLOSE_TRY_AGAIN_LATER
    with pytest.raises(InvalidStatus) as refused:
        Stream(web.ws_port, key, since=seen[-1]["id"])
    assert refused.value.response.status_code == 403
    # Stock changes through the API still work; their events wait in the outbox.
    for quantity in (1, 2, 5):
        api.receive(*receive, quantity)
    reserved = api.post("reservations/", {"lines": [{"sku": product.sku, "quantity": 6}]})
    assert reserved.status_code == 201, reserved.text
    missed = list(OutboxEvent.objects.filter(id__gt=seen[-1]["id"]).order_by("id"))
    assert len(missed) == 4
    assert all(event.published_at is None for event in missed)

    private_redis.start()  # same port, empty
    by_query = Stream(web.ws_port, key, since=seen[-1]["id"])
    by_action = Stream(web.ws_port, key)
    by_action.send({"action": "resume", "since": seen[-1]["id"]})
    for stream in (by_query, by_action):
        replayed = stream.events(4)
        assert ids(replayed) == [event.pk for event in missed]
        assert [e["data"]["on_hand"] for e in replayed] == [8, 10, 15, 15]
        assert replayed[-1]["data"]["reserved"] == 6
        assert stream.next() == {
            "type": "replayed", "since": seen[-1]["id"], "count": 4, "last_id": missed[-1].pk,
        }  # fmt: skip

    # Live again: the worker reconnected to the broker and publishes the missed events and the
    # new ones; each stream sends only what it has not sent.
    api.receive(*receive, 9)
    wait_for(
        lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(),
        60,
        "the worker to publish the outbox",
    )
    api.receive(*receive, 1)
    everything = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    for stream in (by_query, by_action):
        live = stream.events(2)
        assert ids(seen + replayed + live) == everything
        assert [e["data"]["version"] for e in seen + replayed + live] == list(range(1, 9))
        assert [e["data"]["on_hand"] for e in live] == [24, 25]
        stream.close()
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved, level.version) == (25, 6, 8)


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_reconnects_after_a_redis_outage_and_shows_what_changed(
    private_redis, workdir, processes, merchant, owner, product, location
):
    from playwright.sync_api import sync_playwright

    level = factories.stock(product, location, 10)
    client = Client()
    client.force_login(owner)
    session = client.cookies["sessionid"].value
    # DEBUG serves the dashboard's script without collectstatic; the session cookie made here
    # is signed with this process's key.
    env = django_env(
        DATABASE_URL=current_database_url(),
        REDIS_URL=private_redis.url,
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
    )
    web, port = web_server(env, workdir)
    processes.append(web)
    processes.append(event_worker(env, workdir, "dispatcher"))

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context, page = open_dashboard(
            chromium, f"http://127.0.0.1:{port}", session, merchant, location
        )
        available = page.locator(f'tr[data-level="{level.pk}"] td[data-field="available"]')
        page.wait_for_selector("#connection[data-state='live']", timeout=10_000)

        private_redis.stop()
        page.wait_for_selector("#connection[data-state='reconnecting']", timeout=10_000)
        in_thread(
            services.stock_ship,
            merchant=merchant,
            lines=[services.StockLine(product=product, location=location, quantity=4)],
            actor=None,
            idempotency_key=factories.key(),
        )  # its event waits in the outbox; no channel layer to publish it to
        assert available.inner_text() == "10"

        private_redis.start()
        page.wait_for_selector("#connection[data-state='live']", timeout=30_000)
        page.wait_for_function(
            "el => el.textContent === '6'", arg=available.element_handle(), timeout=10_000
        )
        assert page.locator("#movements li").first.inner_text().endswith("-4 on hand")
        context.close()
        chromium.close()
