"""The scenarios. Each returns a dict: `rows` (one per driver of the reference chain: raw
psycopg, in-process service, API), `facts` (scenario-specific figures) and `verify` (the
output of `inventory_verify` after a write scenario)."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Sum

from apps.inventory import selectors, services
from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.statements import (
    bucket_reserve_statement,
    movement_statement,
    reserve_statement,
)
from apps.inventory.models import LedgerEntry, Source, StockBucket, StockLevel
from bench import data
from bench.drive import percentile, run_driver, summarize
from bench.stack import Stack


@dataclass
class Options:
    seconds: float
    small: bool
    db_connections: int
    stack: Stack
    shape: str = "fused"
    soak_minutes: float = 10
    buckets: int = 0

    @property
    def dsn(self) -> str:
        settings = connection.settings_dict
        return (
            f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
            f"dbname={settings['NAME']} user={settings['USER']}"
            + (f" password={settings['PASSWORD']}" if settings["PASSWORD"] else "")
        )


def verify() -> dict[str, Any]:
    """`inventory_verify`, as printed."""
    out = io.StringIO()
    try:
        call_command("inventory_verify", limit=20, stdout=out)
        clean = True
    except CommandError as error:
        out.write(str(error))
        clean = False
    return {"clean": clean, "output": out.getvalue().strip()}


def split_statement() -> tuple[str, dict[str, Any]]:
    """The engine's generic guarded statement for one reserve movement (the earlier shape)."""
    movement = Movement(
        stock_level_id=0,
        reason=LedgerEntry.Reason.RESERVE,
        requested=1,
        reserved=1,
        respect_safety_stock=True,
        reference="",
    )
    ctx = MovementContext(
        merchant_id=0, actor_id=None, source=Source.API, idempotency_key="", at=None
    )
    return movement_statement([movement], ctx)


MERCHANT_MARK, SKU_MARK = -424242, "\x01sku"


def availability_sql() -> dict[str, Any]:
    """The availability selector's query as the ORM compiles it, with its parameters: the
    merchant's and the SKU's positions are marked "merchant" and "sku" for the driver."""
    from apps.inventory.selectors import availability_rows

    sql, params = availability_rows(merchant_id=MERCHANT_MARK, sku=SKU_MARK).query.sql_with_params()
    marked = [
        "merchant" if p == MERCHANT_MARK else "sku" if p == SKU_MARK else {"value": p}
        for p in params
    ]
    assert marked.count("merchant") == marked.count("sku") == 1, params
    return {"sql": sql, "params": marked}


def fused_statement(merchant_id: int) -> tuple[str, dict[str, Any]]:
    """The product's one-line reservation statement, with the per-request values left out."""
    ctx = MovementContext(
        merchant_id=merchant_id, actor_id=None, source=Source.API, idempotency_key="", at=None
    )
    sql, params = reserve_statement(
        product_id=0,
        location_id=0,
        quantity=0,
        reservation={"id": "", "status": "active", "order_ref": "", "expires_at": None},
        ctx=ctx,
    )
    per_request = {"product_id", "location_id", "quantity", "reference", "reservation_id",
                   "expires_at", "idempotency_key", "at"}  # fmt: skip
    return sql, {k: v for k, v in params.items() if k not in per_request}


def bucket_statement(merchant_id: int, *, wait: bool = False) -> tuple[str, dict[str, Any]]:
    """The product's one-line reservation statement on a bucketed level (`wait`: its second
    try, waiting for one bucket), with the per-request values left out (the raw driver fills
    them, `start` included)."""
    ctx = MovementContext(
        merchant_id=merchant_id, actor_id=None, source=Source.API, idempotency_key="", at=None
    )
    sql, params = bucket_reserve_statement(
        product_id=0,
        location_id=0,
        quantity=0,
        reservation={"id": "", "status": "active", "order_ref": "", "expires_at": None},
        ctx=ctx,
        sku="",
        location_code="",
        start=0,
        wait=wait,
    )
    per_request = {"product_id", "location_id", "quantity", "reference", "reservation_id",
                   "expires_at", "idempotency_key", "at", "sku", "location_code", "start"}  # fmt: skip
    return sql, {k: v for k, v in params.items() if k not in per_request}


def reserve_job(
    catalog: data.Catalog, opts: Options, *, buckets: int = 0, **extra: Any
) -> dict[str, Any]:
    """With `buckets`, the raw driver runs the bucket statement (the product's statement for a
    bucketed level) instead of the level's."""
    sql, params = split_statement()
    params = {k: v for k, v in params.items() if k != "at"}
    params["merchant_id"] = catalog.merchant.pk
    fused_sql, fused_params = (
        bucket_statement(catalog.merchant.pk) if buckets else fused_statement(catalog.merchant.pk)
    )
    return {
        "kind": "reserve",
        "seconds": opts.seconds,
        "merchant_id": catalog.merchant.pk,
        "token": catalog.token,
        "host": opts.stack.host,
        "port": opts.stack.port,
        "skus": catalog.skus,
        "locations": catalog.locations,
        "pairs": [[p, loc] for p in catalog.product_ids for loc in catalog.location_ids],
        "pair_names": [[sku, code] for sku in catalog.skus for code in catalog.locations],
        "buckets": buckets,
        "bucket_wait_sql": bucket_statement(catalog.merchant.pk, wait=True)[0] if buckets else "",
        "reserve_sql": sql,
        "reserve_params": params,
        "fused_sql": fused_sql,
        "fused_params": fused_params,
        "shape": opts.shape,
        "dsn": opts.dsn,
        **extra,
    }


def chain(
    job: dict[str, Any], opts: Options, api_concurrency: int, drivers=("psycopg", "service", "api")
) -> list[dict[str, Any]]:
    """The reference chain: the same work through each driver, one after the other."""
    rows = []
    for driver in drivers:
        concurrency = api_concurrency if driver == "api" else opts.db_connections
        raw = run_driver(driver, {**job, "concurrency": concurrency}, pool=opts.db_connections)
        rows.append(summarize(driver, concurrency, raw))
    ceiling = rows[0]["ops_per_s"] if rows and rows[0]["driver"] == "psycopg" else None
    for row in rows:
        row["of_ceiling"] = round(row["ops_per_s"] / ceiling, 3) if ceiling else None
    return rows


def hot_sku(opts: Options) -> dict[str, Any]:
    """One SKU at one location. With `--buckets N`, its reservable units are first split over
    N stock buckets (the opt-in for a SKU too hot for one row)."""
    catalog = data.catalog("hot", products=1, locations=1, on_hand=100_000_000)
    if opts.buckets:
        data.split_into_buckets(catalog, opts.buckets)
    level_version = StockLevel.objects.get(merchant=catalog.merchant).version
    job = reserve_job(catalog, opts, buckets=opts.buckets, quantity_min=1, quantity_max=3)
    rows = chain(job, opts, api_concurrency=64)
    level = StockLevel.objects.get(merchant=catalog.merchant)
    facts: dict[str, Any] = {"buckets": opts.buckets}
    if opts.buckets:
        facts.update(
            # Reservations went to the buckets: the level row was not written meanwhile.
            level_writes_during_run=level.version - level_version,
            reserved_per_bucket=list(
                StockBucket.objects.filter(stock_level=level)
                .order_by("number")
                .values_list("reserved", flat=True)
            ),
        )
    return {"rows": rows, "facts": facts, "verify": verify()}


def spread(opts: Options) -> dict[str, Any]:
    products = 200 if opts.small else 10_000
    catalog = data.catalog("spread", products=products, locations=10, on_hand=1_000_000)
    job = reserve_job(catalog, opts, quantity_min=1, quantity_max=3)
    job["pairs_note"] = f"{products} SKUs x 10 locations"
    rows = chain(job, opts, api_concurrency=64)
    return {"rows": rows, "facts": {"stock_levels": products * 10}, "verify": verify()}


def flash_sellout(opts: Options) -> dict[str, Any]:
    """1,000 units, 20,000 requests of one unit from 128 clients, through each driver (a fresh
    SKU each). Sold out when the 1,000th success completes."""
    units, requests = (100, 2_000) if opts.small else (1_000, 20_000)
    rows, facts = [], {}
    for driver in ("psycopg", "service", "api"):
        catalog = data.catalog(f"flash-{driver}", products=1, locations=1, on_hand=units)
        job = reserve_job(catalog, opts, max_requests=requests, seconds=max(opts.seconds * 4, 60))
        concurrency = 128 if driver == "api" else opts.db_connections
        raw = run_driver(driver, {**job, "concurrency": concurrency}, pool=opts.db_connections)
        row = summarize(driver, concurrency, raw)
        level = StockLevel.objects.get(merchant=catalog.merchant)
        times = row["success_times"]
        late = row["latencies_by_status"].get("write:409", {})
        row["of_ceiling"] = None
        facts[driver] = {
            "reserved_units": level.reserved,
            "on_hand": level.on_hand,
            "successes": row["ok"],
            "server_errors": row["server_5xx"] + row["transport_errors"],
            "sold_out_s": round(times[units - 1], 3) if len(times) >= units else None,
            "late_409_p50_ms": late.get("p50"),
            "late_409_p99_ms": late.get("p99"),
            "exact": level.reserved == units and row["ok"] == units,
        }
        rows.append(row)
    return {"rows": rows, "facts": facts, "verify": verify()}


def _get_json(port: int, path: str, token: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _staleness_probe(
    catalog: data.Catalog, opts: Options, stop: threading.Event, samples: list[float]
) -> None:
    """Receive one unit, then poll the API until the answer shows it: the time from the
    write's commit to the first read that reflects it, under the read load."""
    from apps.catalog.models import Product
    from apps.locations.models import Location

    product = Product.objects.get(merchant=catalog.merchant, sku=catalog.skus[0])
    location = Location.objects.get(merchant=catalog.merchant, code=catalog.locations[0])
    path = f"/api/v1/availability/{product.sku}/"
    try:
        while not stop.is_set():
            result = services.stock_receive(
                merchant=catalog.merchant,
                lines=[services.StockLine(product=product, location=location, quantity=1)],
                actor=None,
                idempotency_key=str(uuid.uuid4()),
            )
            committed = time.perf_counter()
            expected = selectors.availability(merchant=catalog.merchant, sku=product.sku).available
            del result
            while not stop.is_set():
                seen = _get_json(opts.stack.port, path, catalog.token)["available"]
                if seen >= expected:
                    samples.append((time.perf_counter() - committed) * 1000)
                    break
                if time.perf_counter() - committed > 30:
                    samples.append(30_000.0)
                    break
            time.sleep(0.05)
    finally:
        connection.close()


def availability_reads(opts: Options) -> dict[str, Any]:
    products = 100 if opts.small else 1_000
    catalog = data.catalog("reads", products=products, locations=10, on_hand=100)
    job = {
        "kind": "availability",
        "seconds": opts.seconds,
        "merchant_id": catalog.merchant.pk,
        "token": catalog.token,
        "host": opts.stack.host,
        "port": opts.stack.port,
        "skus": catalog.skus,
        "read_skus": catalog.skus,
        "availability_sql": availability_sql(),
        "dsn": opts.dsn,
    }
    rows = chain(job, opts, api_concurrency=64, drivers=("psycopg", "service"))
    stop, samples = threading.Event(), []
    probe = threading.Thread(target=_staleness_probe, args=(catalog, opts, stop, samples))
    probe.start()
    try:
        raw = run_driver("api", {**job, "concurrency": 64}, pool=opts.db_connections)
    finally:
        stop.set()
        probe.join()
    api = summarize("api", 64, raw)
    api["of_ceiling"] = round(api["ops_per_s"] / rows[0]["ops_per_s"], 3)
    rows.append(api)
    facts = {
        "staleness_samples": len(samples),
        "staleness_p50_ms": percentile(samples, 0.5),
        "staleness_p99_ms": percentile(samples, 0.99),
        "staleness_max_ms": max(samples) if samples else None,
    }
    return {"rows": rows, "facts": facts, "verify": verify()}


def _count_lines(catalog: data.Catalog) -> list[dict[str, Any]]:
    return [
        {"sku": sku, "location": code, "quantity": 50}
        for sku in catalog.skus
        for code in catalog.locations
    ]


def _two_at_a_time(work) -> float:
    """Run `work` in two threads (each takes batches until none is left); the seconds taken."""
    began = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def bulk_in_process(products: int) -> dict[str, Any]:
    """The bulk reference without HTTP: the same 10,000-line count batches, two at a time, given
    to the bulk service in-process (SKU and location lookups included), on a merchant of the
    same shape. What is left between this and the API is request parsing, validation and
    the response."""
    from apps.catalog.selectors import products_by_sku
    from apps.feeds.services.bulk import COUNT, BulkLine, bulk_stock_apply
    from apps.locations.selectors import locations_by_code

    catalog = data.catalog("bulk-svc", products=products, locations=10, on_hand=0, stock=False)
    lines = _count_lines(catalog)
    batches = [lines[i : i + 10_000] for i in range(0, len(lines), 10_000)]
    lock = threading.Lock()

    def apply_batches() -> None:
        try:
            while True:
                with lock:
                    if not batches:
                        return
                    batch = batches.pop()
                found = products_by_sku(merchant=catalog.merchant, skus=[ln["sku"] for ln in batch])
                places = locations_by_code(
                    merchant=catalog.merchant, codes=[ln["location"] for ln in batch]
                )
                bulk_stock_apply(
                    merchant=catalog.merchant,
                    mode=COUNT,
                    atomic=True,
                    lines=[
                        BulkLine(
                            index=i,
                            product=found[ln["sku"]],
                            location=places[ln["location"]],
                            quantity=ln["quantity"],
                            expected_version=None,
                        )
                        for i, ln in enumerate(batch)
                    ],
                    actor=None,
                    idempotency_key=str(uuid.uuid4()),
                )
        finally:
            connection.close()

    elapsed = _two_at_a_time(apply_batches)
    return {
        "service_seconds": round(elapsed, 2),
        "service_lines_per_s": round(len(lines) / elapsed, 1),
    }


def bulk_and_mixed(opts: Options) -> list[tuple[str, dict[str, Any]]]:
    """Bulk: 1,000,000 count lines (100,000 SKUs x 10 locations) through the bulk endpoint,
    100 requests of 10,000 lines, two at a time. Mixed: then 90 % availability reads / 10 %
    reservations (TTL 5 s, so the expiry sweeper has work) over those rows."""
    products = 1_000 if opts.small else 100_000
    catalog = data.catalog("bulk", products=products, locations=10, on_hand=0, stock=False)
    lines = _count_lines(catalog)
    batches = [lines[i : i + 10_000] for i in range(0, len(lines), 10_000)]
    statuses: list[int] = []
    lock = threading.Lock()

    def post_batches() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", opts.stack.port, timeout=600)
        try:
            while True:
                with lock:
                    if not batches:
                        return
                    batch = batches.pop()
                body = json.dumps({"mode": "count", "atomic": True, "lines": batch})
                conn.request(
                    "POST",
                    "/api/v1/bulk/stock/",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {catalog.token}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": str(uuid.uuid4()),
                    },
                )
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
        finally:
            conn.close()

    elapsed = _two_at_a_time(post_batches)
    totals = StockLevel.objects.filter(merchant=catalog.merchant).aggregate(
        rows=Sum(1), on_hand=Sum("on_hand")
    )
    bulk = {
        "rows": [],
        "facts": {
            "lines": len(lines),
            "seconds": round(elapsed, 2),
            "lines_per_s": round(len(lines) / elapsed, 1),
            "requests": len(statuses),
            "statuses": {str(s): statuses.count(s) for s in set(statuses)},
            "stock_rows": totals["rows"],
            "on_hand_total": totals["on_hand"],
            **bulk_in_process(products),
        },
        "verify": verify(),
    }
    job = reserve_job(
        catalog,
        opts,
        kind="mixed",
        read_share=0.9,
        ttl_seconds=5,
        quantity_min=1,
        quantity_max=2,
        read_skus=catalog.skus,
        availability_sql=availability_sql(),
    )
    rows = chain(job, opts, api_concurrency=64, drivers=("psycopg", "service"))
    raw = run_driver("api", {**job, "concurrency": 64}, pool=opts.db_connections)
    reads = {k: v for k, v in raw["latencies_ms"].items() if k.startswith("read:")}
    writes = {k: v for k, v in raw["latencies_ms"].items() if k.startswith("write:")}
    row = summarize("api", 64, raw)
    row["of_ceiling"] = round(row["ops_per_s"] / rows[0]["ops_per_s"], 3)
    time.sleep(2)
    mixed = {
        "rows": [*rows, row],
        "facts": {
            "reads_per_s": round(sum(map(len, reads.values())) / raw["elapsed"], 1),
            "writes_per_s": round(sum(map(len, writes.values())) / raw["elapsed"], 1),
            "read_p99_ms": percentile([x for v in reads.values() for x in v], 0.99),
            "write_p99_ms": percentile([x for v in writes.values() for x in v], 0.99),
            "expired_by_sweeper": LedgerEntry.objects.filter(
                merchant=catalog.merchant, reason=LedgerEntry.Reason.EXPIRE
            ).count(),
        },
        "verify": verify(),
    }
    return [("bulk", bulk), ("mixed", mixed)]


def _drain_outbox(timeout: float) -> tuple[int, float | None]:
    """Wait (bounded) until the dispatcher has published the events earlier scenarios left
    behind, so that fan-out latency is not the queue of a backlog. Returns the backlog and how
    long it took to drain (None when it did not drain in time)."""
    from apps.inventory.models import OutboxEvent

    pending = OutboxEvent.objects.filter(published_at__isnull=True)
    backlog, began = pending.count(), time.perf_counter()
    while pending.exists():
        if time.perf_counter() - began > timeout:
            return backlog, None
        time.sleep(1)
    return backlog, round(time.perf_counter() - began, 1)


def fan_out(opts: Options) -> dict[str, Any]:
    """500 websocket subscribers (all of the merchant's stock) while one SKU changes 20 times a
    second through the API."""
    clients = 20 if opts.small else 500
    backlog, drain_s = _drain_outbox(timeout=300)
    catalog = data.catalog("fanout", products=1, locations=1, on_hand=10)
    job = {
        "host": opts.stack.host,
        "port": opts.stack.port,
        "token": catalog.token,
        "clients": clients,
        "rate": 20,
        "seconds": opts.seconds,
        "sku": catalog.skus[0],
        "location": catalog.locations[0],
    }
    raw = run_driver("fanout", job, pool=opts.db_connections)
    latencies = raw["latencies_ms"]
    writes = sum(n for status, n in raw["writes"].items() if status == "201")
    facts = {
        "outbox_backlog_before": backlog,
        "backlog_drain_s": drain_s,
        "clients_connected": raw["connected"],
        "clients_failed": raw["failed"],
        "writes_201": writes,
        "writes_other": {k: v for k, v in raw["writes"].items() if k != "201"},
        "deliveries": len(latencies),
        "expected_deliveries": writes * raw["connected"],
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
        "errors": raw["errors"],
    }
    return {"rows": [], "facts": facts, "verify": verify()}


def soak(opts: Options) -> dict[str, Any]:
    """Mixed load (90 % reads, 10 % reservations with a 5 s TTL, so the sweeper works too) over
    `soak_minutes`, in one-minute rounds; the RSS of every server process after each round.
    Growth is the last round's RSS minus the first round's (after warm-up)."""
    minutes = max(1, round(opts.soak_minutes))
    catalog = data.catalog("soak", products=100 if opts.small else 1_000, locations=10,
                           on_hand=1_000_000)  # fmt: skip
    job = reserve_job(
        catalog,
        opts,
        kind="mixed",
        read_share=0.9,
        ttl_seconds=5,
        read_skus=catalog.skus,
        seconds=60 if not opts.small else opts.seconds,
    )
    samples = []
    answered = 0
    for _ in range(minutes):
        raw = run_driver("api", {**job, "concurrency": 64}, pool=opts.db_connections)
        answered += sum(raw["statuses"].values())
        samples.append({name: m["rss_mb"] for name, m in opts.stack.memory().items()})
    growth = {name: round(samples[-1].get(name, 0) - samples[0][name], 1) for name in samples[0]}
    facts = {
        "rounds": minutes,
        "requests": answered,
        "rss_first_round_mb": samples[0],
        "rss_last_round_mb": samples[-1],
        "growth_mb": growth,
    }
    return {"rows": [], "facts": facts, "rss_by_round_mb": samples, "verify": verify()}


SCENARIOS = {
    "hot": hot_sku,
    "flash": flash_sellout,
    "spread": spread,
    "reads": availability_reads,
    "bulk+mixed": bulk_and_mixed,
    "fanout": fan_out,
    "soak": soak,
}
