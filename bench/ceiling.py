"""The ceiling: the product's own transaction driven by raw psycopg (async, one connection per
client), no Django, no HTTP. Reads one job (JSON) on stdin and prints the Recorder's result.

`reserve` runs the statements `reservation_create` runs for a one-line reservation: the
idempotency claim, then the engine's statement (taken from `statements.reserve_statement`, so
it is byte for byte the product's), then COMMIT. On a bucketed level (`buckets` in the job),
the statements are the product's bucket statements (`statements.bucket_reserve_statement`:
skipping locked buckets, then waiting for one), each after a SAVEPOINT in the same round trip
(client-side binding, as the product sends them), rolled back when it finds no room; the
product's slow path (refill from the level) is left out: the hot scenario never needs it.
`availability` runs the availability selector's query.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.recorder import Recorder

CLAIM = (
    "INSERT INTO inventory_idempotencyrecord "
    "(merchant_id, key, operation, fingerprint, result, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id"
)
LEVELS = (
    "SELECT product_id, location_id, id FROM inventory_stocklevel "
    "WHERE product_id IN (%s) AND location_id IN (%s)"
)
RESERVATION = (
    "INSERT INTO inventory_reservation (id, merchant_id, status, order_ref, expires_at, source, "
    "created_by_id, created_at, closed_at) VALUES (%s, %s, 'active', '', %s, 'api', NULL, %s, NULL)"
)
LINE = (
    "INSERT INTO inventory_reservationline "
    "(reservation_id, stock_level_id, product_id, location_id, quantity) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING id"
)


async def reserve(conn: psycopg.AsyncConnection, job: dict[str, Any], rng: random.Random) -> int:
    """`shape` "fused" (what the product runs for a one-line reservation: BEGIN, claim, one
    statement, COMMIT) or "split" (the earlier shape: level lookup, reservation and line
    inserts as separate statements before the guarded statement)."""
    index = rng.randrange(len(job["pairs"]))
    product_id, location_id = job["pairs"][index]
    quantity = rng.randint(job.get("quantity_min", 1), job.get("quantity_max", 1))
    key = str(uuid.uuid4())
    now = datetime.now(UTC)
    reservation_id = uuid.uuid4()
    merchant_id = job["merchant_id"]
    digest = hashlib.sha256(f"{product_id}:{location_id}:{quantity}".encode()).hexdigest()
    claim = [merchant_id, key, "reservation.create", digest, Jsonb({"r": str(reservation_id)}), now]
    expires_at = now + timedelta(seconds=job.get("ttl_seconds", 900))
    async with conn.transaction() as tx:
        await conn.execute(CLAIM, claim)
        if job.get("shape", "fused") == "fused":
            params = dict(job["fused_params"])
            params.update(
                product_id=product_id,
                location_id=location_id,
                quantity=quantity,
                reference=f"reservation:{reservation_id}",
                reservation_id=reservation_id,
                expires_at=expires_at,
                idempotency_key=key,
                at=now,
            )
            if job.get("buckets"):
                sku, code = job["pair_names"][index]
                params.update(sku=sku, location_code=code)
                if not await _reserve_in_a_bucket(conn, job, params, rng):
                    raise psycopg.Rollback(tx)
                return 201
            cursor = await conn.execute(job["fused_sql"], params)
        else:
            cursor = await conn.execute(LEVELS, [product_id, location_id])
            level_id = (await cursor.fetchone())[2]
            await conn.execute(RESERVATION, [reservation_id, merchant_id, expires_at, now])
            await conn.execute(LINE, [reservation_id, level_id, product_id, location_id, quantity])
            params = dict(job["reserve_params"])
            params.update(
                r_stock_level_id=[level_id],
                r_d_reserved=[quantity],
                r_reference=[f"reservation:{reservation_id}"],
                idempotency_key=key,
                at=now,
            )
            cursor = await conn.execute(job["reserve_sql"], params)
        if not await cursor.fetchall():
            raise psycopg.Rollback(tx)  # refused (insufficient stock): nothing is kept
        return 201
    return 409


async def _reserve_in_a_bucket(
    conn: psycopg.AsyncConnection, job: dict[str, Any], params: dict[str, Any], rng: random.Random
) -> bool:
    """The product's two tries on a bucketed level, each in a savepoint given back on no row."""
    async with psycopg.AsyncClientCursor(conn) as cursor:
        for sql in (job["fused_sql"], job["bucket_wait_sql"]):
            params["start"] = rng.randrange(job["buckets"])
            await cursor.execute(f"SAVEPOINT bucket_pick; {sql}", params)
            cursor.nextset()
            if await cursor.fetchone() is not None:
                return True
            await cursor.execute("ROLLBACK TO SAVEPOINT bucket_pick")
    return False


async def availability(
    conn: psycopg.AsyncConnection, job: dict[str, Any], rng: random.Random
) -> int:
    query = job["availability_sql"]
    values = {"merchant": job["merchant_id"], "sku": rng.choice(job["skus"])}
    params = [values[p] if isinstance(p, str) else p["value"] for p in query["params"]]
    cursor = await conn.execute(query["sql"], params)
    await cursor.fetchall()
    return 200


async def run(job: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder(float(job["seconds"]), job.get("max_requests"))

    def pick(rng: random.Random):
        """(operation, kind) of the next request: `mixed` reads with probability read_share."""
        kind = job["kind"]
        if kind == "mixed":
            kind = "availability" if rng.random() < job.get("read_share", 0.9) else "reserve"
        return (reserve, "write") if kind == "reserve" else (availability, "read")

    async def client(index: int) -> None:
        rng = random.Random(index)
        async with await psycopg.AsyncConnection.connect(job["dsn"], autocommit=True) as conn:
            if job.get("asynchronous_commit"):
                # Only to show what the WAL flush under the row lock costs; never the product's.
                await conn.execute("SET synchronous_commit = off")
            while recorder.take():
                operation, kind = pick(rng)
                began = time.perf_counter()
                status = await operation(conn, job, rng)
                recorder.record(kind, status, began)

    await asyncio.gather(*(client(i) for i in range(int(job["concurrency"]))))
    return recorder.result()


def main() -> None:
    job = json.load(sys.stdin)
    import uvloop

    uvloop.install()
    json.dump(asyncio.run(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
