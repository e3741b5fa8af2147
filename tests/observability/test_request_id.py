import json
import logging
import threading

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker

from apps.observability.celery_hooks import HEADER
from apps.observability.context import get_request_id, reset_request_id, set_request_id
from apps.observability.logging import JsonFormatter, RequestIdFilter
from inventory_site.celery import app as celery_app


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


def test_a_sane_caller_id_is_kept_and_an_unsafe_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.42")["X-Request-ID"] == "lb-7f3a.42"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert replaced != "bad id\nwith newline"
    assert len(replaced) == 32


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord(
        "stockroom", logging.WARNING, __file__, 1, "low %s", ("stock",), None
    )
    token = set_request_id("req-123")
    try:
        RequestIdFilter().filter(record)
    finally:
        reset_request_id(token)
    record.sku = "SKU-1"  # fields passed with extra= become keys
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "low stock"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-123"
    assert line["sku"] == "SKU-1"
    assert line["time"].endswith("+00:00")


def test_exceptions_are_one_json_line():
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: broken" in json.loads(text)["exception"]


SEEN: dict[str, str | None] = {}
DONE = threading.Event()


@shared_task(name="tests.observability.record_request_id")
def record_request_id(marker: str) -> None:
    SEEN[marker] = get_request_id()
    DONE.set()


@pytest.mark.django_db(transaction=True)
def test_the_request_id_travels_into_a_celery_task_on_a_real_worker():
    """Published through the real Redis broker and run by a real worker thread."""
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            token = set_request_id("req-from-web-42")
            try:
                message = record_request_id.delay("with-id")
            finally:
                reset_request_id(token)
            assert DONE.wait(20), "the worker did not run the task"
            DONE.clear()
            record_request_id.delay("without-id")
            assert DONE.wait(20)
    finally:
        celery_app.conf.task_always_eager = True
    assert SEEN["with-id"] == "req-from-web-42"
    assert SEEN["without-id"].startswith("task-")
    assert message.id
    assert get_request_id() is None


def test_the_header_name_is_stable():
    assert HEADER == "stockroom_request_id"  # log queries and dashboards rely on it


def test_one_access_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="stockroom.access"):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="trace-77")
    (record,) = [r for r in caplog.records if r.name == "stockroom.access"]
    assert (record.method, record.route, record.status) == ("GET", "healthz", 200)
    assert record.duration_ms >= 0
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == response["X-Request-ID"] == "trace-77"
    assert line["path"] == "/healthz"
