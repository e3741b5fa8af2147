"""`manage.py serve` on the production stack: HTTP over WSGI (granian) and websockets (uvicorn)
on their own ports, as real processes on the test database and Redis."""

from __future__ import annotations

import json

import pytest
import requests
from django.test import Client
from websockets.sync.client import connect

from apps.apikeys.services import api_key_create
from apps.inventory.models import StockLevel
from tests import factories
from tests.realstack import free_port, product_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def served(merchant):
    _, key = api_key_create(merchant=merchant, name="served")
    port, ws_port = free_port(), free_port()
    with product_server(port=port, ws_port=ws_port) as base_url, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        yield {"base": base_url, "ws_port": ws_port, "session": session, "key": key}


def test_writes_reads_and_errors_over_wsgi(served, product, location):
    session, base = served["session"], served["base"]
    body = {"sku": product.sku, "location": location.code, "quantity": 7, "reference": "PO-1"}
    response = session.post(
        f"{base}/api/v1/stock/receipts/", json=body, headers={"Idempotency-Key": "receipt-1"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"]
    assert StockLevel.objects.get(product=product, location=location).on_hand == 7

    anonymous = requests.get(f"{base}/api/v1/products/", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    login = requests.get(f"{base}/admin/login/", timeout=10)
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    foreign = requests.get(f"{base}/healthz", headers={"Host": "evil.example"}, timeout=10)
    assert foreign.status_code == 400  # DisallowedHost, answered, not raised


def test_a_streamed_export_is_sent_in_chunks(served, product, location):
    factories.stock(product, location, 5)
    response = served["session"].get(f"{served['base']}/api/v1/ledger/export/", stream=True)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "Content-Length" not in response.headers  # streamed, not read into memory first
    lines = response.content.decode().strip().splitlines()
    assert len(lines) == 2  # the header and the receipt
    assert product.sku in lines[1]


def test_every_request_hands_its_database_connection_back(served, product, location):
    """More requests than the pool has connections (DATABASE_POOL_MAX 20, 4 threads): a
    connection kept by any request would soon leave the next ones waiting for the pool."""
    factories.stock(product, location, 5)
    session, base = served["session"], served["base"]
    for _ in range(60):
        response = session.get(f"{base}/api/v1/stock/{product.sku}/{location.code}/", timeout=10)
        assert response.status_code == 200, response.text


def test_websockets_are_served_on_their_own_port(served):
    url = f"ws://127.0.0.1:{served['ws_port']}/ws/stock/"
    headers = {"Authorization": f"Bearer {served['key']}"}
    with connect(url, additional_headers=headers, open_timeout=10) as websocket:
        assert json.loads(websocket.recv(timeout=10))["type"] == "subscribed"
    # The HTTP port is WSGI: it does not upgrade connections.
    with pytest.raises(Exception):  # noqa: B017, PT011 - refused one way or another
        connect(f"{served['base'].replace('http', 'ws')}/ws/stock/", open_timeout=5)


def test_pages_are_told_the_websocket_port(served, owner, merchant, location):
    client = Client()
    client.force_login(owner)  # the servers run the test settings: the same secret key
    page = requests.get(
        f"{served['base']}/dashboard/?merchant={merchant.pk}&location={location.pk}",
        cookies={"sessionid": client.cookies["sessionid"].value},
        timeout=10,
    )
    assert page.status_code == 200
    assert f'"port": {served["ws_port"]}' in page.text
