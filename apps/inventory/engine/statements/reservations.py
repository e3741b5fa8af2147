"""Statements that create one-line reservations on a level: by ids (`reserve_statement`) and by
SKU and location code with the idempotency claim and the stored response
(`reserve_by_code_statement`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from apps.inventory.engine.changes import CodedReservation, MovementContext
from apps.inventory.engine.statements.levels import (
    ENTRY_RESULT,
    HELD_RESERVATION,
    LEDGER_INSERT_COLUMNS,
    MOVED_ENTRY_EVENT,
    REQUEST_COLUMNS,
    compact,
    context_params,
    reservation_params,
)
from apps.inventory.engine.statements.tables import (
    IDEMPOTENCY,
    LEDGER,
    LOCATION,
    OUTBOX,
    PRODUCT,
    RESERVATION,
    RESERVATION_LINE,
    STOCK_LEVEL,
)
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
)
from apps.inventory.outbox import STOCK_CHANGED
from apps.locations.models import Location

# --- Reservations ---------------------------------------------------------------------------


def reserve_statement(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
) -> tuple[str, dict[str, Any]]:
    """One statement that finds the stock level of (product, location), reserves `quantity`
    under the usual guards (safety stock respected), writes the ledger and outbox rows, and
    inserts the reservation and its line, all only if the guarded update happened: one round
    trip, the level's lock held from here to COMMIT. Returns one row (ROW_KEYS, then the line
    id), or none when refused, when the level does not exist, or when it has buckets on (its
    one-line reservations go to `bucket_reserve_statement`)."""
    params = context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=LedgerEntry.Reason.RESERVE,
        **reservation_params(reservation),
    )
    sql = f"""
        WITH r ({", ".join(REQUEST_COLUMNS)}) AS (
            SELECT l.id, %(reason)s::varchar, 0, %(quantity)s::integer, 0, 0, true, false,
                NULL::bigint, NULL::integer, %(reference)s::varchar, ''::varchar
            FROM {STOCK_LEVEL} AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s AND l.bucket_count = 0
        ),
        {MOVED_ENTRY_EVENT},
        {HELD_RESERVATION},
        line AS (
            INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
                location_id, quantity)
            SELECT held.id, moved.stock_level_id, moved.product_id, moved.location_id,
                moved.d_reserved
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT {ENTRY_RESULT}, line.id FROM entry CROSS JOIN line
    """
    return sql, params


def reserve_by_code_statement(
    *,
    merchant_id: int,
    sku: str,
    location_code: str,
    requests: Sequence[CodedReservation],
    operation: str,
    retained_since: datetime,
    at: datetime,
) -> tuple[str, dict[str, Any]]:
    """Whole one-line reservations of one SKU at one location, named by their codes, for a
    batch of `requests` (one or many orders that arrived together), in ONE statement (its own
    transaction in autocommit: the level row is locked only while the statement runs and
    commits, with no client round trip in between). It resolves the codes within the
    merchant, reads every request's idempotency key, and, for the requests whose key is new,
    with the product active and the location taking reservations:

    - locks the level (unless its snapshot cannot serve even the smallest request: a sold-out
      level refuses without queueing on the lock) and admits the requests in their order, each
      if the units left after those admitted before it cover it (safety stock respected), so
      that the last unit goes exactly;
    - adds the admitted units to the level's `reserved` and its version, in one update;
    - writes, per admitted request, its ledger row (its own running figures and version), its
      outbox row, the reservation and its line, and the claim of its key with the response to
      replay (`CodedReservation.result`, `response_status`, `response_body`; the fingerprint is
      the SHA-256 of `fingerprint_prefix`, "<product_id>, <location_id>, <quantity>" and
      `fingerprint_suffix`: the canonical request of `apps.core.idempotency`, whose ids only the
      statement knows).

    A request whose key another call is claiming at the same moment makes the unique index
    refuse the whole statement: nothing is written, and the callers take the transactional
    path, which waits for and replays the other call. A level with buckets is left alone.

    Returns one row per request, in order (BY_CODE_KEYS): the reservation line when it was
    held, the key's retained record when there was one, what the codes name, and the level's
    figures (after this batch, under the lock; or as the snapshot saw them when not locked)."""
    params: dict[str, Any] = {
        alias: [getattr(request, name) for request in requests]
        for name, (alias, _) in _PER_REQUEST.items()
    }
    params.update(
        m=merchant_id,
        sku=sku,
        code=location_code,
        since=retained_since,
        at=at,
        reason=LedgerEntry.Reason.RESERVE,
        topic=STOCK_CHANGED,
        active=Location.Status.ACTIVE,
        status=Reservation.Status.ACTIVE,
        op=operation,
    )
    return _RESERVE_BY_CODE, params


# What travels per request, as one array each: its parameter and column alias, and its type.
_PER_REQUEST = {
    "idempotency_key": ("key", "varchar"), "quantity": ("q", "integer"),
    "reservation_id": ("rid", "uuid"), "order_ref": ("ref", "varchar"),
    "expires_at": ("exp", "timestamptz"), "at": ("ts", "timestamptz"),
    "actor_id": ("actor", "bigint"), "api_key_id": ("kid", "bigint"),
    "api_key_name": ("kname", "varchar"), "source": ("src", "varchar"),
    "result": ("res", "jsonb"), "response_status": ("st", "smallint"),
    "response_body": ("body", "jsonb"), "fingerprint_prefix": ("pre", "text"),
    "fingerprint_suffix": ("suf", "text"),
}  # fmt: skip
_UNNEST = ", ".join(f"%({alias})s::{kind}[]" for alias, kind in _PER_REQUEST.values())
_ALIASES = ", ".join(alias for alias, _ in _PER_REQUEST.values())

# Whitespace collapsed and names short: psycopg caches how it parses a statement of at most
# 4,096 characters, and this one runs on every order. r: the requests (their columns named by
# _PER_REQUEST), f: those with a new key (numbered n), t: what the codes name, lv: the level as
# the snapshot sees it, lk: the level locked, a: the admitted requests (the k-th admitted,
# `taken` units up to and including it), x: their total.
_RESERVE_BY_CODE = compact(f"""
    WITH RECURSIVE r AS (
        SELECT * FROM unnest({_UNNEST}) WITH ORDINALITY AS r({_ALIASES}, pos)
    ),
    pr AS (
        SELECT i.* FROM {IDEMPOTENCY} i JOIN r ON i.key = r.key
        WHERE i.merchant_id = %(m)s AND i.created_at >= %(since)s
    ),
    f AS (
        SELECT r.*, row_number() OVER (ORDER BY r.pos) AS n FROM r
        WHERE NOT EXISTS (SELECT FROM pr WHERE pr.key = r.key)
    ),
    t AS (
        SELECT p.id AS pid, p.is_active, c.id AS cid, c.status
        FROM (SELECT 1) o
        LEFT JOIN {PRODUCT} p ON p.merchant_id = %(m)s AND p.sku = %(sku)s
        LEFT JOIN {LOCATION} c ON c.merchant_id = %(m)s AND c.code = %(code)s
    ),
    lv AS (
        SELECT l.* FROM {STOCK_LEVEL} l JOIN t ON l.product_id = t.pid
            AND l.location_id = t.cid
        WHERE l.merchant_id = %(m)s
    ),
    lk AS (
        SELECT s.*, s.on_hand - s.reserved - s.safety_stock AS free FROM {STOCK_LEVEL} s, lv, t
        WHERE s.id = lv.id AND lv.bucket_count = 0 AND t.is_active AND t.status = %(active)s
            AND lv.on_hand - lv.reserved - lv.safety_stock >= (SELECT min(q) FROM f)
        FOR NO KEY UPDATE OF s
    ),
    pick (n, taken, ok) AS (
        SELECT 0::bigint, 0::bigint, false
        UNION ALL
        SELECT f.n, p.taken + CASE WHEN p.taken + f.q <= lk.free THEN f.q ELSE 0 END,
            p.taken + f.q <= lk.free
        FROM pick p JOIN f ON f.n = p.n + 1 CROSS JOIN lk
    ),
    a AS (
        SELECT f.*, p.taken, row_number() OVER (ORDER BY f.n) AS k
        FROM f JOIN pick p ON p.n = f.n WHERE p.ok
    ),
    x AS (SELECT sum(q) AS q, count(*) AS c FROM a),
    moved AS (
        UPDATE {STOCK_LEVEL} s SET reserved = s.reserved + x.q, version = s.version + x.c,
            updated_at = %(at)s
        FROM lk, x
        WHERE s.id = lk.id AND x.c > 0 AND s.on_hand - s.reserved - x.q >= s.safety_stock
        RETURNING s.id
    ),
    entry AS (
        INSERT INTO {LEDGER} ({LEDGER_INSERT_COLUMNS})
        SELECT %(m)s, lk.id, lk.product_id, lk.location_id, %(reason)s, 0, a.q, 0, 0,
            lk.on_hand, lk.reserved + a.taken, lk.damaged, lk.in_transit, lk.safety_stock,
            lk.version + a.k, a.actor, a.kid, a.kname, a.src, 'reservation:' || a.rid, '',
            a.key, a.ts, NULL
        FROM a, lk, moved ORDER BY a.k RETURNING id
    ),
    event AS (
        INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload, created_at)
        SELECT %(m)s, %(topic)s, id, '{{}}', %(at)s FROM entry
    ),
    held AS (
        INSERT INTO {RESERVATION} (id, merchant_id, status, order_ref, expires_at, source,
            created_by_id, created_at, closed_at)
        SELECT a.rid, %(m)s, %(status)s, a.ref, a.exp, a.src, a.actor, a.ts, NULL
        FROM a, moved
    ),
    line AS (
        INSERT INTO {RESERVATION_LINE} (reservation_id, stock_level_id, product_id,
            location_id, quantity)
        SELECT a.rid, lk.id, lk.product_id, lk.location_id, a.q FROM a, lk, moved
        RETURNING id, reservation_id
    ),
    claimed AS (
        INSERT INTO {IDEMPOTENCY} (merchant_id, key, operation, fingerprint, result,
            response_status, response_body, created_at)
        SELECT %(m)s, a.key, %(op)s, encode(sha256(convert_to(a.pre || lk.product_id
            || ', ' || lk.location_id || ', ' || a.q || a.suf, 'UTF8')), 'hex'),
            a.res, a.st, a.body, a.ts
        FROM a, lk, moved
    )
    SELECT line.id, pr.fingerprint, pr.result, pr.response_status,
        pr.response_body, t.pid, t.is_active, t.cid, t.status, lv.id, lv.bucket_count,
        coalesce(lk.on_hand, lv.on_hand),
        coalesce(lk.reserved + coalesce(x.q, 0), lv.reserved),
        coalesce(lk.safety_stock, lv.safety_stock)
    FROM r CROSS JOIN t CROSS JOIN x LEFT JOIN lv ON true LEFT JOIN lk ON true
    LEFT JOIN line ON line.reservation_id = r.rid LEFT JOIN pr ON pr.key = r.key
    ORDER BY r.pos
""")

# The columns of each row `reserve_by_code_statement` returns.
BY_CODE_KEYS = (
    "line_id", "prior_fingerprint", "prior_result", "prior_response_status",
    "prior_response_body", "product_id", "product_active", "location_id", "location_status",
    "stock_level_id", "bucket_count", "on_hand", "reserved", "safety_stock",
)  # fmt: skip


def close_statement(
    *,
    merchant_id: int,
    reservation_id: Any,
    commit: bool,
    reason: str,
    ctx: MovementContext,
    operation: str,
    fingerprint: str,
    request: str,
    retained_since: datetime,
) -> tuple[str, dict[str, Any]]:
    """Commit (the sale) or release an active, unexpired reservation whose lines all sit on
    levels (none on a bucket), in ONE statement in autocommit, when its idempotency key is new:
    the reservation's conditional status change (of concurrent closers exactly one wins), its
    levels locked in primary-key order (the global order, after the reservation as every
    closer takes them), each level's reserved (and on a commit on_hand, with its last sale
    stamped) down by its lines, one
    ledger and one outbox row per level, and the key claimed with the response to replay: the
    reservation as the API writes it (`ReservationSerializer`'s fields, rendered here; a test
    holds the two equal). `request` is the caller's fingerprint of its request.

    Returns one row: the response document when the reservation was closed (else None), the
    products whose levels moved, and the key's retained record when there was one. Anything else (a key seen before, an expired,
    closed or bucketed reservation) changes nothing, for the transactional path to answer."""
    params = {
        "m": merchant_id,
        "rid": reservation_id,
        "to": Reservation.Status.COMMITTED if commit else Reservation.Status.RELEASED,
        "active": Reservation.Status.ACTIVE,
        "sold": 1 if commit else 0,
        "reason": reason,
        "topic": STOCK_CHANGED,
        "op": operation,
        "fingerprint": fingerprint,
        "request": request,
        "since": retained_since,
        "key": ctx.idempotency_key,
        "at": ctx.at,
        "actor": ctx.actor_id,
        "kid": ctx.api_key_id,
        "kname": ctx.api_key_name,
        "src": ctx.source,
    }
    return _CLOSE, params


def _iso(column: str) -> str:
    """`column` (timestamptz) as DRF writes a datetime in UTC: ISO 8601, microseconds only
    when there are any, `Z`."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_part('microseconds', "
        f"{utc})::bigint %% 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END || 'Z'"
    )


# res: the reservation closed, ln: units per level of its lines, lk: those levels locked in
# order, moved: the levels after, doc: the reservation as the API writes it.
_CLOSE = compact(f"""
    WITH pr AS (
        SELECT i.* FROM {IDEMPOTENCY} i
        WHERE i.merchant_id = %(m)s AND i.key = %(key)s AND i.created_at >= %(since)s
    ),
    res AS (
        UPDATE {RESERVATION} r SET status = %(to)s, closed_at = %(at)s
        WHERE r.id = %(rid)s AND r.merchant_id = %(m)s AND r.status = %(active)s
            AND r.expires_at > %(at)s AND NOT EXISTS (SELECT FROM pr)
            AND NOT EXISTS (SELECT FROM {RESERVATION_LINE} b WHERE b.reservation_id = r.id
                AND b.bucket_id IS NOT NULL)
        RETURNING r.*
    ),
    ln AS (
        SELECT l.stock_level_id AS id, sum(l.quantity) AS q
        FROM {RESERVATION_LINE} l JOIN res ON l.reservation_id = res.id
        GROUP BY l.stock_level_id
    ),
    lk AS (
        SELECT s.id FROM {STOCK_LEVEL} s JOIN ln ON s.id = ln.id ORDER BY s.id
        FOR NO KEY UPDATE OF s
    ),
    moved AS (
        UPDATE {STOCK_LEVEL} s SET on_hand = s.on_hand - ln.q * %(sold)s,
            reserved = s.reserved - ln.q, version = s.version + 1, updated_at = %(at)s,
            last_sold_at = CASE WHEN %(sold)s = 1 THEN GREATEST(s.last_sold_at, %(at)s)
                ELSE s.last_sold_at END
        FROM ln, lk WHERE s.id = ln.id AND lk.id = ln.id
        RETURNING s.*, ln.q
    ),
    entry AS (
        INSERT INTO {LEDGER} ({LEDGER_INSERT_COLUMNS})
        SELECT %(m)s, id, product_id, location_id, %(reason)s, -q * %(sold)s, -q, 0, 0, on_hand,
            reserved, damaged, in_transit, safety_stock, version, %(actor)s, %(kid)s,
            %(kname)s, %(src)s, 'reservation:' || %(rid)s, '', %(key)s, %(at)s, NULL
        FROM moved ORDER BY id RETURNING id
    ),
    event AS (
        INSERT INTO {OUTBOX} (merchant_id, topic, ledger_entry_id, payload, created_at)
        SELECT %(m)s, %(topic)s, id, '{{}}', %(at)s FROM entry
    ),
    doc AS (
        SELECT jsonb_build_object('id', res.id, 'status', res.status, 'order_ref',
            res.order_ref, 'expires_at', {_iso("res.expires_at")}, 'created_at',
            {_iso("res.created_at")}, 'closed_at', {_iso("res.closed_at")}, 'lines',
            (SELECT jsonb_agg(jsonb_build_object('sku', p.sku, 'location', c.code,
                'quantity', l.quantity) || CASE WHEN f.id IS NULL THEN '{{}}'::jsonb ELSE
                jsonb_build_object('substitute_for', jsonb_build_object('sku', f.sku,
                'quantity', l.substitute_for_quantity)) END ORDER BY l.id)
             FROM {RESERVATION_LINE} l JOIN {PRODUCT} p ON p.id = l.product_id
             JOIN {LOCATION} c ON c.id = l.location_id
             LEFT JOIN {PRODUCT} f ON f.id = l.substitute_for_id
             WHERE l.reservation_id = res.id)) AS body
        FROM res
    ),
    claimed AS (
        INSERT INTO {IDEMPOTENCY} (merchant_id, key, operation, fingerprint, result,
            response_status, response_body, created_at)
        SELECT %(m)s, %(key)s, %(op)s, %(fingerprint)s, jsonb_build_object('reservation_id',
            %(rid)s::text, 'request', %(request)s::text, 'headers', '{{}}'::jsonb), 200,
            doc.body, %(at)s
        FROM doc
    )
    SELECT (SELECT body FROM doc), (SELECT array_agg(DISTINCT product_id) FROM moved),
        pr.fingerprint, pr.response_status
    FROM (SELECT 1) o LEFT JOIN pr ON true
""")
