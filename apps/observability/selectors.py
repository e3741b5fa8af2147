"""Readiness checks: each answers (ok, detail) quickly and never raises."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

CHECK_TIMEOUT_SECONDS = 2.0
# Checks reported by /readyz without deciding readiness: the service keeps taking writes
# without them (see docs/operations.md).
NON_CRITICAL = frozenset({"redis", "replica"})


def database_check(alias: str = DEFAULT_DB_ALIAS) -> tuple[bool, str]:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        connection.close_if_unusable_or_obsolete()
        return False, f"unreachable: {error.__class__.__name__}"
    return True, "ok"


def migrations_check(alias: str = DEFAULT_DB_ALIAS) -> tuple[bool, str]:
    connection = connections[alias]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        connection.close_if_unusable_or_obsolete()
        return False, f"unreachable: {error.__class__.__name__}"
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
        return False, f"{len(plan)} unapplied: {names}"
    return True, "ok"


def redis_check() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "not configured (embedded defaults)"
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return False, f"unreachable: {error.__class__.__name__}"
    finally:
        client.close()
    return True, "ok"


def readiness() -> dict[str, tuple[bool, str]]:
    checks = {"database": database_check(), "redis": redis_check()}
    checks["migrations"] = migrations_check() if checks["database"][0] else (False, "skipped")
    if "replica" in settings.DATABASES:
        checks["replica"] = database_check("replica")
    return checks
