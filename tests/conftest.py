from __future__ import annotations

import socket

import psycopg
import pytest
import redis
from django.conf import settings

from apps.api import throttling
from apps.core import db_errors
from apps.inventory import availability_cache
from tests import factories


def pytest_configure(config: pytest.Config) -> None:
    """The suite needs real PostgreSQL and Redis: say so loudly instead of skipping."""
    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432, user=db.get("USER") or None,
            password=db.get("PASSWORD") or None, dbname="postgres", connect_timeout=3,
        ).close()  # fmt: skip
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable ({db.get('HOST')}:{db.get('PORT')}): {error}\n"
            "Start it or set DATABASE_URL; the tests never run without it.",
            returncode=3,
        )
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.exit(
            f"Redis is not reachable at {settings.REDIS_URL}: {error}\nStart it or set REDIS_URL.",
            returncode=3,
        )


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis db, and this process forgets what it kept of it
    (rate budgets, cached availability) and any database outage an earlier test reported."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    throttling.budgets = throttling.Budgets()
    availability_cache._local.clear()
    db_errors.database_outage.down_until = 0.0


@pytest.fixture
def merchant():
    return factories.merchant()


@pytest.fixture
def other_merchant():
    return factories.merchant()


@pytest.fixture
def product(merchant):
    return factories.product(merchant)


@pytest.fixture
def location(merchant):
    return factories.location(merchant, priority=10)


@pytest.fixture
def other_location(merchant):
    return factories.location(merchant, priority=20)


@pytest.fixture
def owner(merchant):
    return factories.user(merchant)
