"""Many clients reserve the last units of one SKU at once through nginx and two web processes:
exactly the stock is reserved, every other client is refused with a problem document, and a
retry with the same Idempotency-Key through another process, later or at the same moment, has
no second effect."""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.apikeys.services import api_key_create
from apps.inventory.ledger_replay import find_drift, oversold_units
from apps.inventory.models import LedgerEntry, Reservation
from tests import factories
from tests.resilience.servers import (
    current_database_url,
    django_env,
    load_balancer,
    manage,
    web_server,
)

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]
STOCK = 20
CLIENTS = 64
CONCURRENCY = 16


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_through_nginx_reserve_exactly_the_stock(
    private_redis, workdir, processes, merchant, product, location
):
    level = factories.stock(product, location, STOCK)
    _, key = api_key_create(merchant=merchant, name="shop")
    env = django_env(DATABASE_URL=current_database_url(), REDIS_URL=private_redis.url)
    web_ports = []
    for _ in range(2):
        web, port = web_server(env, workdir)
        processes.append(web)
        web_ports.append(port)
    nginx, nginx_port = load_balancer(web_ports, workdir)
    processes.append(nginx)
    sessions = threading.local()

    def line(order: int) -> dict:
        """Half the orders name the location (the one-statement path), half let the service
        allocate (a read, then a guarded update, retried when a competitor won)."""
        if order % 2:
            return {"sku": product.sku, "quantity": 1, "location": location.code}
        return {"sku": product.sku, "quantity": 1}

    def reserve(base: str, idempotency_key: str, order: int) -> requests.Response:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
            sessions.session.headers["Authorization"] = f"Bearer {key}"
        return sessions.session.post(
            f"{base}/api/v1/reservations/",
            json={"lines": [line(order)], "order_ref": f"WEB-{order}"},
            headers={"Idempotency-Key": idempotency_key},
            timeout=60,
        )

    keys = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        responses = list(
            pool.map(reserve, [f"http://127.0.0.1:{nginx_port}"] * CLIENTS, keys, range(CLIENTS))
        )

    assert Counter(r.status_code for r in responses) == {201: STOCK, 409: CLIENTS - STOCK}
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.headers["Content-Type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "insufficient_stock"
        assert [(line["sku"], line["requested"]) for line in problem["lines"]] == [(product.sku, 1)]
    # Both web processes took part.
    assert {r.headers["X-Upstream"] for r in responses} == {f"127.0.0.1:{p}" for p in web_ports}
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (STOCK, STOCK)
    assert Reservation.objects.filter(status="active").count() == STOCK
    ledger_rows = LedgerEntry.objects.filter(stock_level=level).count()
    assert ledger_rows == 1 + STOCK

    # Retries with the same keys, each sent straight to the process that did not answer first.
    def other_process(response: requests.Response) -> str:
        (port,) = set(web_ports) - {int(response.headers["X-Upstream"].rsplit(":", 1)[1])}
        return f"http://127.0.0.1:{port}"

    retried = [i for i, r in enumerate(responses) if r.status_code == 201][:8]
    retried += [i for i, r in enumerate(responses) if r.status_code == 409][:4]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        retries = list(
            pool.map(
                reserve,
                [other_process(responses[i]) for i in retried],
                [keys[i] for i in retried],
                retried,
            )
        )
    for i, retry in zip(retried, retries, strict=True):
        assert retry.status_code == responses[i].status_code
        assert retry.json() == responses[i].json()
        if retry.status_code == 201:
            assert retry.headers["Idempotent-Replayed"] == "true"
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.version) == (STOCK, STOCK, 1 + STOCK)
    assert Reservation.objects.count() == STOCK
    assert LedgerEntry.objects.filter(stock_level=level).count() == ledger_rows

    # The same key sent to both processes at the same moment: one reservation, two answers.
    twins = [str(uuid.uuid4()) for _ in range(4)]
    factories.stock(product, location, len(twins))
    with ThreadPoolExecutor(2 * len(twins)) as pool:
        pairs = list(
            pool.map(
                reserve,
                [f"http://127.0.0.1:{p}" for _ in twins for p in web_ports],
                [k for k in twins for _ in web_ports],
                [CLIENTS + n for n in range(len(twins)) for _ in web_ports],
            )
        )
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        replayed = {
            first.headers.get("Idempotent-Replayed"),
            second.headers.get("Idempotent-Replayed"),
        }
        assert replayed == {None, "true"}  # one of them made it, the other was told what it made
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (STOCK + len(twins), STOCK + len(twins))
    assert Reservation.objects.count() == STOCK + len(twins)

    assert oversold_units() == 0
    assert find_drift() == []
    verified = manage("inventory_verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "No drift" in verified.stdout
    assert "Oversold units: 0." in verified.stdout
