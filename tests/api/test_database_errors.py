"""Database failures through the API, induced for real on PostgreSQL with a second connection:
a deadlock or a serialization failure is run again invisibly and applied exactly once; when it
persists, and for lock and statement timeouts, exhausted or unreachable servers, the 503 names
what happened (never `database_unavailable` for a live database) and nothing was applied."""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from apps.core.models import IdempotencyRecord
from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SHIPMENTS = "/api/v1/stock/shipments/"


def raw_connection(**kwargs) -> psycopg.Connection:
    """A connection of its own to the test database, beside Django's."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or None,
        password=db["PASSWORD"] or None, dbname=db["NAME"], **kwargs,
    )  # fmt: skip


def wait_until_blocked_by(blocker: psycopg.Connection) -> int:
    """Until another backend waits for a lock `blocker` holds; returns its pid."""
    with raw_connection(autocommit=True) as watcher:
        for _ in range(1000):
            waiting = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [blocker.info.backend_pid],
            ).fetchone()
            if waiting:
                return waiting[0]
            time.sleep(0.01)
    raise AssertionError("the request never waited for the lock")


@contextmanager
def request_in_thread(call) -> Iterator[dict]:
    """Run `call()` (an API request) in a thread with its own database connection; the dict
    holds its response once the block ends."""
    result: dict = {}

    def run() -> None:
        try:
            result["response"] = call()
        finally:
            connection.close()  # this thread's connection

    worker = threading.Thread(target=run)
    worker.start()
    try:
        yield result
    finally:
        worker.join(60)
    assert "response" in result, "the request did not finish"


@pytest.fixture
def level(product, location):
    return factories.stock(product, location, 10)


def shipment(product, location) -> dict:
    return {"sku": product.sku, "location": location.code, "quantity": 4}


def ledger_rows(merchant) -> int:
    return LedgerEntry.objects.filter(merchant=merchant).count()


def induce_deadlock(blocker: psycopg.Connection, merchant, key: str) -> None:
    """With `blocker` holding the stock level a request is waiting for, ask for the
    idempotency key the request holds: each waits for the other. Our session waits far
    longer than deadlock_timeout, so PostgreSQL aborts the request's transaction."""
    wait_until_blocked_by(blocker)
    blocker.execute(
        "INSERT INTO inventory_idempotencyrecord "
        "(merchant_id, key, operation, fingerprint, result, created_at) "
        "VALUES (%s, %s, 'blocker', '', '{}', now()) ON CONFLICT DO NOTHING",
        [merchant.pk, key],
    )  # returns once the request's transaction was aborted


def test_a_deadlocked_write_is_run_again_and_applied_once(
    merchant, product, location, level, caplog
):
    api = client_for(merchant)
    with raw_connection() as blocker, caplog.at_level(logging.WARNING, "apps.core.db_errors"):
        blocker.execute("SET deadlock_timeout = '60s'")
        blocker.execute("SELECT 1 FROM inventory_stocklevel WHERE id = %s FOR UPDATE", [level.pk])
        call = functools.partial(api.post_stock, SHIPMENTS, shipment(product, location), key="k-1")
        with request_in_thread(call) as result:
            induce_deadlock(blocker, merchant, "k-1")
            blocker.rollback()
    response = result["response"]
    assert response.status_code == 201, response.content
    assert response.json()["levels"][0]["on_hand"] == 6
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6
    assert ledger_rows(merchant) == 2  # the receipt of the fixture and this shipment, once
    assert [r.getMessage() for r in caplog.records] == [
        "deadlock_detected: running it again (attempt 2 of 3)"
    ]
    replay = api.post_stock(SHIPMENTS, shipment(product, location), key="k-1")
    assert replay.json() == response.json()
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6


def test_a_deadlock_that_persists_is_named_and_changes_nothing(
    merchant, product, location, level, settings
):
    settings.STOCKROOM_DB_RETRY_ATTEMPTS = 1
    api = client_for(merchant)
    with raw_connection() as blocker:
        blocker.execute("SET deadlock_timeout = '60s'")
        blocker.execute("SELECT 1 FROM inventory_stocklevel WHERE id = %s FOR UPDATE", [level.pk])
        call = functools.partial(api.post_stock, SHIPMENTS, shipment(product, location), key="k-2")
        with request_in_thread(call) as result:
            induce_deadlock(blocker, merchant, "k-2")
            blocker.rollback()
    body = assert_problem(result["response"], 503, "deadlock_detected")
    assert result["response"]["Retry-After"] == "1"
    assert "nothing was applied" in body["detail"]
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10
    assert ledger_rows(merchant) == 1
    assert not IdempotencyRecord.objects.filter(key="k-2").exists()


def test_a_serialization_failure_is_run_again_and_applied_once(
    merchant, product, location, level, caplog
):
    """The request's transactions run at REPEATABLE READ: a concurrent update of the level
    committed after its snapshot makes its own update fail with 40001."""
    api = client_for(merchant)

    def call():
        with connection.cursor() as cursor:
            cursor.execute(
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"
            )
        return api.post_stock(SHIPMENTS, shipment(product, location), key="k-3")

    with raw_connection() as blocker, caplog.at_level(logging.WARNING, "apps.core.db_errors"):
        blocker.execute(
            "UPDATE inventory_stocklevel SET safety_stock = safety_stock WHERE id = %s",
            [level.pk],
        )
        with request_in_thread(call) as result:
            wait_until_blocked_by(blocker)
            blocker.commit()
    assert result["response"].status_code == 201, result["response"].content
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6
    assert ledger_rows(merchant) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "serialization_failure: running it again (attempt 2 of 3)"
    ]


def test_a_deadlocked_feed_event_is_run_again_and_applied_once(
    merchant, product, location, level, caplog
):
    """The feed serializes the events of a stock level with an advisory lock: asking for the
    one the waiting request holds closes the cycle."""
    api = client_for(merchant)
    event = {"source": "pos-1", "event_id": "s-1", "sequence": 1, "type": "sale",
             "sku": product.sku, "location": location.code, "quantity": 4}  # fmt: skip
    call = functools.partial(api.post_stock, "/api/v1/events/", {"events": [event]}, key="k-5")
    with raw_connection() as blocker, caplog.at_level(logging.WARNING, "apps.core.db_errors"):
        blocker.execute("SET deadlock_timeout = '60s'")
        blocker.execute("SELECT 1 FROM inventory_stocklevel WHERE id = %s FOR UPDATE", [level.pk])
        with request_in_thread(call) as result:
            waiting = wait_until_blocked_by(blocker)
            blocker.execute(
                "SELECT pg_advisory_xact_lock((classid::bigint << 32) | objid::bigint) "
                "FROM pg_locks WHERE pid = %s AND locktype = 'advisory' AND granted",
                [waiting],
            )
            blocker.rollback()
    response = result["response"]
    assert response.status_code == 200, response.content
    assert [r["outcome"] for r in response.json()["results"]] == ["applied"]
    assert StockLevel.objects.get(pk=level.pk).on_hand == 6
    assert ledger_rows(merchant) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "deadlock_detected: running it again (attempt 2 of 3)"
    ]


@contextmanager
def session_setting(name: str, value: str) -> Iterator[None]:
    """A setting of Django's connection for the requests made in the block."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    try:
        yield
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("setting", "code"), [("lock_timeout", "lock_timeout"), ("statement_timeout", "statement_timeout")]
)  # fmt: skip
def test_a_timeout_while_rows_are_locked_is_named_and_changes_nothing(
    merchant, product, location, level, settings, setting, code
):
    settings.STOCKROOM_RETRY_AFTER_SECONDS = 7
    api = client_for(merchant)
    with raw_connection() as blocker:
        blocker.execute("SELECT 1 FROM inventory_stocklevel WHERE id = %s FOR UPDATE", [level.pk])
        with session_setting(setting, "200ms"):
            response = api.post_stock(SHIPMENTS, shipment(product, location), key="k-4")
    body = assert_problem(response, 503, code)
    assert response["Retry-After"] == "7"
    assert "nothing was applied" in body["detail"]
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10
    assert ledger_rows(merchant) == 1


@contextmanager
def connecting_as(**changes) -> Iterator[None]:
    """Django's connection reconnects with these settings (USER, PORT) inside the block."""
    connection.close()
    saved = {name: connection.settings_dict[name] for name in changes}
    connection.settings_dict.update(changes)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def test_a_server_out_of_connections_is_named_truly(merchant, product, location, level):
    api = client_for(merchant)
    role = f"stockroom_no_connections_{uuid.uuid4().hex[:12]}"
    with raw_connection(autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 0").format(sql.Identifier(role))
        )
        try:
            with connecting_as(USER=role):
                response = api.post_stock(SHIPMENTS, shipment(product, location))
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert_problem(response, 503, "too_many_connections")
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10


def test_an_unreachable_server_is_database_unavailable(
    merchant, product, location, level, unused_port
):
    api = client_for(merchant)
    with connecting_as(PORT=str(unused_port)):
        response = api.post_stock(SHIPMENTS, shipment(product, location))
    body = assert_problem(response, 503, "database_unavailable")
    assert "Idempotency-Key" in body["detail"]
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10
