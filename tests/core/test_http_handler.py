"""The ASGI application's HTTP side (inventory_site/http_handler.py), driven as an ASGI server
would drive it: request bodies, buffered and streamed responses, cookies, errors, and the
database connection handed back after every request."""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core import signals

from apps.inventory.models import StockLevel
from inventory_site.http_handler import SyncASGIHandler
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def scope(method: str, path: str, headers: dict[str, str], query: str = "") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _call(app, method, path, headers=None, body=b"", chunks=1, query=""):
    """Send a request (the body split in `chunks` messages); return status, headers, body
    and how many body messages the response took."""
    communicator = ApplicationCommunicator(app, scope(method, path, headers or {}, query))
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    for index, part in enumerate(parts):
        await communicator.send_input(
            {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        )
    start = await communicator.receive_output(10)
    received, messages = b"", 0
    while True:
        message = await communicator.receive_output(10)
        received += message.get("body", b"")
        messages += 1
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    headers_out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers_out, received, messages


def call(*args, **kwargs):
    return async_to_sync(_call)(*args, **kwargs)


@pytest.fixture
def app():
    handler = SyncASGIHandler(threads=2)
    yield handler
    handler.executor.shutdown(wait=True)


def test_a_write_with_a_body_in_several_messages(app, merchant, product, location):
    raw_key = client_for(merchant).raw_key
    body = json.dumps(
        {"sku": product.sku, "location": location.code, "quantity": 7, "reference": "PO-1"}
    ).encode()
    status, headers, received, _ = call(
        app,
        "POST",
        "/api/v1/stock/receipts/",
        {
            "Authorization": f"Bearer {raw_key}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Idempotency-Key": "receipt-1",
            "Host": "testserver",
        },
        body,
        chunks=3,
    )
    assert status == 201, received
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"]
    level = StockLevel.objects.get(product=product, location=location)
    assert level.on_hand == 7


def test_a_streamed_export_arrives_in_several_messages(app, merchant, product, location):
    factories.stock(product, location, 5)
    raw_key = client_for(merchant).raw_key
    status, headers, received, messages = call(
        app,
        "GET",
        "/api/v1/ledger/export/",
        {"Authorization": f"Bearer {raw_key}", "Host": "testserver"},
    )
    assert status == 200
    assert headers["content-type"].startswith("text/csv")
    lines = received.decode().strip().splitlines()
    assert len(lines) == 2  # the header and the receipt
    assert product.sku in lines[1]
    assert messages >= 2  # streamed: the rows, then the closing message


def test_errors_cookies_and_the_connection_handed_back(app):
    finished: list[int] = []

    def on_finished(**_kwargs):
        finished.append(threading.get_ident())

    signals.request_finished.connect(on_finished)
    try:
        status, headers, _, _ = call(app, "GET", "/api/v1/products/", {"Host": "testserver"})
        assert status == 401
        assert headers["content-type"] == "application/problem+json"
        status, headers, _, _ = call(app, "GET", "/admin/login/", {"Host": "testserver"})
        assert status == 200
        assert "csrftoken=" in headers["set-cookie"]
        status, _, _, _ = call(app, "GET", "/healthz", {"Host": "evil.example"})
        assert status == 400  # DisallowedHost, answered, not raised
    finally:
        signals.request_finished.disconnect(on_finished)
    # request_finished ran on the serving threads, never on the event loop's.
    assert len(finished) == 3
    assert threading.get_ident() not in finished
