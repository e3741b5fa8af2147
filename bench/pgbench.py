"""The database's ceiling for a stock write: pgbench running a one-statement reservation in
autocommit on scratch tables, in the benchmark database, in the same run as the API.

The scratch tables are created here and dropped here: `CREATE TABLE ... (LIKE <product table>
INCLUDING ALL)` of the stock levels, the ledger and the reservations, so they have the
product's columns, CHECK constraints and indexes (every index an insert maintains), but no
foreign keys and no triggers. Rows are numbered 1..N, `products x locations` of one merchant.

The statement (`RESERVE`): one CTE that guards and updates one level row (`on_hand - reserved -
safety_stock >= quantity`), inserts a ledger row with the level's new figures and a reservation
row, and returns their ids (NULL when refused). pgbench sends it with the extended protocol
and prepared statements, each client on its own connection. It is the least a reservation can
cost the database: the product's statement also claims the idempotency key and writes the
reservation line, the outbox row and the stored response.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from apps.inventory.models import LedgerEntry, Reservation, StockLevel
from bench.wrk import percentile

SCRATCH_PREFIX = "bench_scratch_"

RESERVE = """\
\\set level random(1, {rows})
\\set quantity random({quantity_min}, {quantity_max})
WITH new_reservation AS (
    SELECT gen_random_uuid() AS id
), level AS (
    UPDATE {level}
       SET reserved = reserved + :quantity, version = version + 1, updated_at = now()
     WHERE id = :level AND on_hand - reserved - safety_stock >= :quantity
    RETURNING id, merchant_id, product_id, location_id, on_hand, reserved, damaged,
              in_transit, safety_stock, version
), ledger AS (
    INSERT INTO {ledger} (
        reason, on_hand_delta, reserved_delta, damaged_delta, in_transit_delta, on_hand_after,
        reserved_after, damaged_after, in_transit_after, safety_stock_after, version_after,
        source, reference, note, idempotency_key, created_at, actor_id, actor_api_key_id,
        actor_api_key_name, location_id, merchant_id, product_id, stock_level_id)
    SELECT 'reserve', 0, :quantity, 0, 0, level.on_hand, level.reserved, level.damaged,
           level.in_transit, level.safety_stock, level.version, 'api',
           'reservation:' || new_reservation.id, '', new_reservation.id::text, now(), NULL, 1,
           'bench', level.location_id, level.merchant_id, level.product_id, level.id
      FROM level, new_reservation
    RETURNING id
), reservation AS (
    INSERT INTO {reservation} (
        id, status, order_ref, expires_at, source, created_at, closed_at, created_by_id,
        merchant_id)
    SELECT new_reservation.id, 'active', '', now() + interval '15 minutes', 'api', now(), NULL,
           NULL, level.merchant_id
      FROM level, new_reservation
    RETURNING id
)
SELECT (SELECT id FROM reservation) AS reservation_id, (SELECT id FROM ledger) AS ledger_id;
"""

# The read of the mixed load: one product's levels and what is available at each.
READ = """\
\\set product random(1, {products})
SELECT location_id, on_hand - reserved - safety_stock AS available
  FROM {level} WHERE merchant_id = 1 AND product_id = :product;
"""

LEVEL_ROWS = """
INSERT INTO {level} (
    on_hand, reserved, damaged, in_transit, safety_stock, low_stock_threshold, reorder_point,
    max_level, version, created_at, updated_at, location_id, merchant_id, product_id,
    bucket_count)
SELECT %(on_hand)s, 0, 0, 0, 0, 0, 0, NULL, 1, now(), now(), (n - 1) %% %(locations)s + 1, 1,
       (n - 1) / %(locations)s + 1, 0
  FROM generate_series(1, %(rows)s) AS n
"""


@dataclass(frozen=True)
class Scratch:
    """Names of the scratch tables and their shape."""

    products: int
    locations: int
    on_hand: int

    level: str = SCRATCH_PREFIX + StockLevel._meta.db_table
    ledger: str = SCRATCH_PREFIX + LedgerEntry._meta.db_table
    reservation: str = SCRATCH_PREFIX + Reservation._meta.db_table

    @property
    def rows(self) -> int:
        return self.products * self.locations

    @property
    def tables(self) -> list[tuple[str, str]]:
        return [
            (self.level, StockLevel._meta.db_table),
            (self.ledger, LedgerEntry._meta.db_table),
            (self.reservation, Reservation._meta.db_table),
        ]

    def reserve_script(self, quantity_min: int, quantity_max: int) -> str:
        return RESERVE.format(
            rows=self.rows,
            quantity_min=quantity_min,
            quantity_max=quantity_max,
            level=self.level,
            ledger=self.ledger,
            reservation=self.reservation,
        )

    def read_script(self) -> str:
        return READ.format(products=self.products, level=self.level)

    def state(self) -> dict[str, Any]:
        """What the ceiling did to its tables: it must have reserved exactly what its ledger
        and reservations say, and never more than on hand."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT coalesce(sum(reserved), 0), coalesce(sum(on_hand), 0), "
                f"count(*) FILTER (WHERE reserved > on_hand - safety_stock) FROM {self.level}"
            )
            reserved, on_hand, oversold_levels = cursor.fetchone()
            cursor.execute(f"SELECT count(*), coalesce(sum(reserved_delta), 0) FROM {self.ledger}")
            ledger_rows, ledger_reserved = cursor.fetchone()
            cursor.execute(f"SELECT count(*), max(created_at) FROM {self.reservation}")
            reservations, last_reservation_at = cursor.fetchone()
        return {
            "reserved": int(reserved),
            "on_hand": int(on_hand),
            "oversold_levels": oversold_levels,
            "ledger_rows": ledger_rows,
            "reservations": reservations,
            "consistent": reserved == ledger_reserved and ledger_rows == reservations,
            "last_reservation_at": last_reservation_at,
        }


@contextlib.contextmanager
def scratch_tables(products: int, locations: int, on_hand: int) -> Iterator[Scratch]:
    """Create the scratch tables with `products x locations` levels of `on_hand` units each,
    and drop them on the way out (also any left behind by an interrupted run)."""
    scratch = Scratch(products=products, locations=locations, on_hand=on_hand)
    drop = f"DROP TABLE IF EXISTS {', '.join(name for name, _ in scratch.tables)}"
    with connection.cursor() as cursor:
        cursor.execute(drop)
        for name, like in scratch.tables:
            cursor.execute(f"CREATE TABLE {name} (LIKE {like} INCLUDING ALL)")
        cursor.execute(
            LEVEL_ROWS.format(level=scratch.level),
            {"on_hand": on_hand, "locations": locations, "rows": scratch.rows},
        )
        cursor.execute(f"VACUUM ANALYZE {scratch.level}")
    try:
        yield scratch
    finally:
        with connection.cursor() as cursor:
            cursor.execute(drop)


def _dsn() -> tuple[list[str], dict[str, str]]:
    """pgbench's connection options and environment, from Django's database settings."""
    settings = connection.settings_dict
    options = ["--host", settings["HOST"] or "127.0.0.1", "--port", str(settings["PORT"] or 5432)]
    if settings["USER"]:
        options += ["--username", settings["USER"]]
    env = dict(os.environ)
    if settings["PASSWORD"]:
        env["PGPASSWORD"] = settings["PASSWORD"]
    return [*options, settings["NAME"]], env


@dataclass
class Transaction:
    """One logged pgbench transaction: its script, start (epoch seconds) and latency (ms)."""

    script: int
    started_at: float
    latency_ms: float


def _read_logs(directory: Path) -> list[Transaction]:
    """pgbench's per-transaction logs (`-l`): `client transaction latency_us script
    end_epoch end_us` per line."""
    transactions = []
    for path in directory.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            latency_us, script = int(fields[2]), int(fields[3])
            ended = int(fields[4]) + int(fields[5]) / 1e6
            transactions.append(Transaction(script, ended - latency_us / 1e6, latency_us / 1000))
    return transactions


def _latencies(values: list[float]) -> dict[str, float | None]:
    return {
        "p50_ms": percentile(values, 0.50),
        "p90_ms": percentile(values, 0.90),
        "p99_ms": percentile(values, 0.99),
        "max_ms": max(values) if values else None,
    }


def run(
    scripts: list[tuple[str, int]],
    *,
    clients: int,
    seconds: float | None = None,
    transactions: int | None = None,
) -> tuple[dict[str, Any], list[Transaction]]:
    """Run pgbench with `scripts` ((text, weight) pairs) for `seconds`, or until about
    `transactions` in all (rounded up to a multiple of `clients`). Returns the summary (tps,
    latency percentiles over every transaction and per script) and every transaction."""
    jobs = max(1, min(clients, os.cpu_count() or 1))
    dsn, env = _dsn()
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        directory = Path(tmp)
        argv = ["pgbench", "--no-vacuum", "--protocol", "prepared", "--client", str(clients),
                "--jobs", str(jobs), "--log", "--log-prefix", str(directory / "pgbench_log")]  # fmt: skip
        if transactions is not None:
            argv += ["--transactions", str(math.ceil(transactions / clients))]
        else:
            argv += ["--time", str(max(1, math.ceil(seconds or 1)))]
        for index, (text, weight) in enumerate(scripts):
            script = directory / f"script{index}.sql"
            script.write_text(text)
            argv += ["--file", f"{script}@{weight}"]
        completed = subprocess.run(
            [*argv, *dsn], capture_output=True, text=True, env=env, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{completed.stdout}\n{completed.stderr}")
        logged = _read_logs(directory)
    output = completed.stdout
    tps = re.search(r"^tps = ([\d.]+)", output, re.MULTILINE)
    failed = re.search(r"^number of failed transactions: (\d+)", output, re.MULTILINE)
    summary: dict[str, Any] = {
        "clients": clients,
        "jobs": jobs,
        "transactions": len(logged),
        "failed": int(failed.group(1)) if failed else 0,
        "ops_per_s": round(float(tps.group(1)), 1) if tps else None,
        **_latencies([t.latency_ms for t in logged]),
    }
    if len(scripts) > 1:
        summary["per_script"] = {
            index: {
                "transactions": sum(1 for t in logged if t.script == index),
                **_latencies([t.latency_ms for t in logged if t.script == index]),
            }
            for index in range(len(scripts))
        }
    return summary, logged
