"""The cursor the engine's hot statements run on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from django.db import connection


@contextlib.contextmanager
def prepared_cursor() -> Iterator[object]:
    """A cursor that binds its parameters on the server (psycopg's own cursor, where Django's
    are client-side), so that a statement this connection has run a few times is prepared:
    planned once per connection instead of on every call. Wrapped as Django wraps its cursors
    (query logging, execute wrappers, database errors translated)."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield cursor
    finally:
        cursor.close()
