"""Database errors: which ones are run again, and what every other one is called. The errors
are real: raised by the PostgreSQL server (a PL/pgSQL RAISE with the SQLSTATE, a statement
timeout, a cancel), by a refused connection or by an exhausted connection pool."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from psycopg_pool import ConnectionPool

from apps.core import db_errors
from apps.core.db_errors import classify, retry_on_conflict
from apps.merchants.models import Merchant
from tests import factories


def execute(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def raising(code: str) -> str:
    """A statement the server fails with this SQLSTATE."""
    return f"DO $$ BEGIN RAISE EXCEPTION 'induced' USING ERRCODE = '{code}'; END $$"


def raise_sqlstate(code: str) -> None:
    """A real server error with this SQLSTATE, through Django's cursor (and its wrapping)."""
    execute(raising(code))


def server_error(*statements: str) -> OperationalError:
    """The error the statements raise, run in a transaction of their own."""
    with pytest.raises(OperationalError) as caught, transaction.atomic():
        execute(*statements)
    return caught.value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("40P01", "deadlock_detected"),
        ("40001", "serialization_failure"),
        ("55P03", "lock_timeout"),
        ("53300", "too_many_connections"),
        ("53100", "database_out_of_resources"),
        ("53200", "database_out_of_resources"),
        ("57P01", "database_unavailable"),
        ("08006", "database_unavailable"),
        ("58030", "database_error"),
    ],
)
def test_server_errors_are_named_by_their_sqlstate(code, name):
    error = server_error(raising(code))
    assert db_errors.sqlstate(error) == code
    assert classify(error).code == name


@pytest.mark.django_db
def test_a_statement_timeout_and_a_cancel_are_told_apart():
    timeout = server_error("SET LOCAL statement_timeout = '50ms'", "SELECT pg_sleep(5)")
    assert classify(timeout).code == "statement_timeout"
    canceled = server_error("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(5)")
    assert classify(canceled).code == "query_canceled"


def test_a_refused_connection_is_database_unavailable(unused_port):
    with pytest.raises(OperationalError) as caught, connection.wrap_database_errors:
        psycopg.connect(host="127.0.0.1", port=unused_port, connect_timeout=3)
    failure = classify(caught.value)
    assert failure.code == "database_unavailable"
    assert not failure.conflict


def test_a_pool_with_no_free_connection_is_named_truly():
    settings = connection.settings_dict
    conninfo = psycopg.conninfo.make_conninfo(
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
        user=settings["USER"] or "postgres", dbname="postgres",
    )  # fmt: skip
    with (
        ConnectionPool(conninfo, min_size=1, max_size=1) as pool,
        pool.connection(),
        pytest.raises(OperationalError) as caught,
        connection.wrap_database_errors,
    ):
        pool.getconn(timeout=0.1)
    assert classify(caught.value).code == "connection_pool_exhausted"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_runs_the_transaction_again(code, caplog):
    attempts = []

    @transaction.atomic
    def create_merchant_failing_twice() -> Merchant:
        attempts.append(1)
        created = factories.merchant(code=f"retried-{len(attempts)}")
        if len(attempts) < 3:
            raise_sqlstate(code)
        return created

    with caplog.at_level(logging.WARNING, logger="apps.core.db_errors"):
        merchant = retry_on_conflict(create_merchant_failing_twice)
    assert len(attempts) == 3
    # The failed attempts were rolled back: only the third one's effect exists.
    assert list(Merchant.objects.values_list("code", flat=True)) == [merchant.code]
    assert merchant.code == "retried-3"
    assert [record.attempt for record in caplog.records] == [2, 3]


@pytest.mark.django_db(transaction=True)
def test_attempts_are_bounded_and_the_last_error_is_raised(settings):
    settings.STOCKROOM_DB_RETRY_ATTEMPTS = 2
    attempts = []

    @transaction.atomic
    def always_deadlocks() -> None:
        attempts.append(1)
        factories.merchant()
        raise_sqlstate("40P01")

    with pytest.raises(OperationalError) as caught:
        retry_on_conflict(always_deadlocks)
    assert len(attempts) == 2
    assert classify(caught.value).code == "deadlock_detected"
    assert not Merchant.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_run_again():
    attempts = []

    @transaction.atomic
    def lock_timeout() -> None:
        attempts.append(1)
        raise_sqlstate("55P03")

    with pytest.raises(OperationalError):
        retry_on_conflict(lock_timeout)
    assert len(attempts) == 1


@pytest.mark.django_db
def test_inside_an_enclosing_transaction_it_runs_once():
    """The enclosing transaction is aborted too: only its owner could start it again."""
    attempts = []

    def deadlocks() -> None:
        attempts.append(1)
        with transaction.atomic():
            raise_sqlstate("40P01")

    with pytest.raises(OperationalError):
        retry_on_conflict(deadlocks)
    assert len(attempts) == 1


def test_a_locked_sqlite_database_is_a_lock_timeout(tmp_path):
    """The embedded defaults run on SQLite, whose writers wait for each other's lock."""
    path = tmp_path / "embedded.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0.05)
    with pytest.raises(sqlite3.OperationalError) as caught:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.close()
    waiter.close()
    assert classify(caught.value).code == "lock_timeout"
