"""The scenarios. Each loads its data through the product's services (bench/data.py), measures
its ceiling and then the product over HTTP with wrk, in the same run, and returns a dict:

- `row`: what the table shows: the product's figure (`figure`, `unit`), its latencies, errors,
  the ceiling's name and figure and the ratio between them;
- `product` and `ceiling`: everything wrk and pgbench (or the bare view) reported;
- `facts`: the scenario's own checks and figures;
- `verify`: `inventory_verify`'s verdict after every scenario that writes stock.
"""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Max, Sum

from apps.catalog.selectors import products_by_sku
from apps.feeds.services.bulk import COUNT, BulkLine, bulk_stock_apply
from apps.inventory.models import LedgerEntry, OutboxEvent, Reservation, StockBucket, StockLevel
from apps.locations.selectors import locations_by_code
from bench import data, pgbench, wrk
from bench.profile import Profiler
from bench.stack import ROOT, Stack, child_env

CONNECTIONS = 64
FLASH_CONNECTIONS = 128
FLASH_BOUND_SECONDS = 60  # the flash run ends then even if not every request was answered
SETTLE_SECONDS = 60  # longest wait for the outbox backlog of earlier scenarios
ONE_TO_THREE = {"quantity_min": 1, "quantity_max": 3}  # units per reservation (hot, spread)
# 90 % reads, 10 % reservations of 1-2 units held 5 s (so the expiry sweeper has work).
MIXED = {"read_share": 0.9, "ttl_seconds": 5, "quantity_min": 1, "quantity_max": 2}


@dataclass
class Options:
    seconds: float
    small: bool
    stack: Stack
    db_connections: int  # pgbench clients: the HTTP workers' database concurrency by default
    wrk_threads: int = 2
    soak_minutes: float = 10
    buckets: int = 0
    profile: str | None = None  # the scenario whose product run py-spy records
    profile_format: str = "raw"
    results_dir: Path = ROOT / "bench" / "results"
    stamp: str = ""


def verify() -> dict[str, Any]:
    """`inventory_verify`, as printed."""
    out = io.StringIO()
    try:
        call_command("inventory_verify", limit=20, stdout=out)
        clean = True
    except CommandError as error:
        out.write(str(error))
        clean = False
    output = out.getvalue().strip()
    print(f"    inventory_verify: {output.splitlines()[-1]}", file=sys.stderr, flush=True)
    return {"clean": clean, "output": output}


def settle(opts: Options) -> dict[str, Any]:
    """Wait (bounded) until the dispatcher has published what earlier scenarios left in the
    outbox, so that a measurement does not share the machine with an earlier one's backlog."""
    pending = OutboxEvent.objects.filter(published_at__isnull=True)
    backlog, began = pending.count(), time.perf_counter()
    if not opts.stack.background:
        return {"outbox_backlog": backlog, "drained_in_s": None}
    while pending.exists():
        if time.perf_counter() - began > SETTLE_SECONDS:
            return {"outbox_backlog": backlog, "drained_in_s": None}
        time.sleep(0.5)
    return {"outbox_backlog": backlog, "drained_in_s": round(time.perf_counter() - began, 1)}


def catalog_env(catalog: data.Catalog, **extra: Any) -> dict[str, str]:
    """What the Lua scripts need to know of a catalog (see bench/lua/common.lua)."""
    return {
        "BENCH_TOKEN": catalog.token,
        "BENCH_SKUS": str(len(catalog.skus)),
        "BENCH_LOCATIONS": str(len(catalog.locations)),
        "BENCH_SKU_FORMAT": data.SKU_FORMAT,
        "BENCH_LOCATION_FORMAT": data.LOCATION_FORMAT,
        **{f"BENCH_{key.upper()}": str(value) for key, value in extra.items()},
    }


def product_run(opts: Options, scenario: str, load: wrk.Load) -> dict[str, Any]:
    """wrk against the product; with `--profile <scenario>`, py-spy records one HTTP worker
    for the length of the run."""
    profiler = None
    if opts.profile == scenario:
        suffix = "txt" if opts.profile_format == "raw" else "json"
        output = opts.results_dir / f"profile-{scenario}-{opts.stamp}.{suffix}"
        worker = opts.stack.http_workers()[0]
        profiler = Profiler(worker, load.seconds, output, opts.profile_format)
    result = wrk.run(load)
    if profiler is not None:
        result["profile"] = profiler.finish()
    return result


def warm_up(opts: Options) -> None:
    """Reservations and availability reads on a catalog of their own, a second or two each,
    not measured: every HTTP worker has imported, resolved and connected before the first
    measurement (a cold worker's first requests are many times slower)."""
    catalog = data.catalog("warm-up", products=10, locations=1, on_hand=100_000_000)
    seconds = 1 if opts.small else 2
    for script in ("reserve.lua", "availability.lua"):
        wrk.run(load_of(opts, script, catalog, seconds=seconds))
    quiesce()


def ratio(value: float | None, ceiling: float | None) -> float | None:
    return round(value / ceiling, 3) if value is not None and ceiling else None


def row(
    figure: float | None,
    unit: str,
    *,
    latencies: dict[str, Any] | None = None,
    errors: int = 0,
    ceiling: str | None = None,
    ceiling_figure: float | None = None,
    ceiling_ratio: float | None = None,
    connections: int | None = None,
) -> dict[str, Any]:
    latencies = latencies or {}
    return {
        "figure": figure,
        "unit": unit,
        "connections": connections,
        **{key: latencies.get(key) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
        "errors": errors,
        "ceiling": ceiling,
        "ceiling_figure": ceiling_figure,
        "ratio": ceiling_ratio if ceiling_ratio is not None else ratio(figure, ceiling_figure),
    }


def errors_of(result: dict[str, Any]) -> int:
    """Answers with a 5xx status (when counted) and socket errors (connect, read, write,
    timeout)."""
    return result["server_5xx"] + sum(result["socket_errors"].values())


def load_of(
    opts: Options,
    script: str,
    catalog: data.Catalog,
    *,
    url: str | None = None,
    connections: int = CONNECTIONS,
    seconds: float | None = None,
    track: str = "none",
    max_requests: int | None = None,
    **knobs: Any,
) -> wrk.Load:
    """A wrk run of `script` over `catalog` (the product's server unless `url`), with the
    script's `knobs` (BENCH_<KNOB> in its environment)."""
    return wrk.Load(
        script=script,
        url=url or opts.stack.url,
        connections=connections,
        seconds=seconds or opts.seconds,
        threads=opts.wrk_threads,
        env=catalog_env(catalog, **knobs),
        track=track,
        max_requests=max_requests,
    )


def throughput(
    product: dict[str, Any], ceiling: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """The outcome of a scenario measured in answers per second, beside a ceiling measured
    the same way; `inventory_verify` after it."""
    return {
        "row": row(
            product["ops_per_s"],
            "/s",
            latencies=product,
            errors=errors_of(product),
            ceiling=ceiling["name"],
            ceiling_figure=ceiling["ops_per_s"],
            connections=product["connections"],
        ),
        "product": product,
        "ceiling": ceiling,
        "facts": facts,
        "verify": verify(),
    }


def pgbench_reserve(
    opts: Options,
    *,
    products: int,
    locations: int,
    on_hand: int,
    quantity: tuple[int, int],
    transactions: int | None = None,
) -> tuple[dict[str, Any], list[pgbench.Transaction]]:
    """The one-statement reservation on scratch tables shaped like the scenario's levels."""
    with pgbench.scratch_tables(products, locations, on_hand) as scratch:
        summary, transactions_run = pgbench.run(
            [(scratch.reserve_script(*quantity), 1)],
            clients=opts.db_connections,
            seconds=None if transactions else opts.seconds,
            transactions=transactions,
        )
        summary["state"] = scratch.state()
    summary["name"] = f"pgbench x{opts.db_connections}"
    return summary, transactions_run


def quiesce(timeout: float = 30) -> None:
    """Wait until the server has finished the requests wrk left in flight when it stopped (the
    ledger's newest row holds still for a second), before counting rows or verifying."""
    deadline = time.monotonic() + timeout
    last, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        newest = LedgerEntry.objects.aggregate(newest=Max("id"))["newest"]
        if newest != last:
            last, still_since = newest, time.monotonic()
        elif time.monotonic() - still_since >= 1:
            return
        time.sleep(0.2)


def new_reservations(catalog: data.Catalog, product: dict[str, Any]) -> dict[str, Any]:
    """Every 2xx answer must be a new reservation (unique idempotency keys: a repeated key
    would be answered from the first response without a new row). wrk stops with up to one
    request per connection in flight, which the server still completes: those are counted in
    the database and not by wrk."""
    quiesce()
    created = Reservation.objects.filter(merchant=catalog.merchant).count()
    return {
        "reservations": created,
        "in_flight_at_stop": created - product["ok"],
        "every_2xx_a_new_reservation": 0 <= created - product["ok"] <= product["connections"],
    }


def hot_sku(opts: Options) -> dict[str, Any]:
    """One SKU at one location, reservations of 1-3 units. With `--buckets N`, its reservable
    units are first split over N stock buckets (the opt-in for a SKU too hot for one row)."""
    catalog = data.catalog("hot", products=1, locations=1, on_hand=100_000_000)
    if opts.buckets:
        data.split_into_buckets(catalog, opts.buckets)
    facts: dict[str, Any] = {"buckets": opts.buckets, **settle(opts)}
    ceiling, _ = pgbench_reserve(
        opts, products=1, locations=1, on_hand=100_000_000, quantity=(1, 3)
    )
    level_version = StockLevel.objects.get(merchant=catalog.merchant).version
    product = product_run(opts, "hot", load_of(opts, "reserve.lua", catalog, **ONE_TO_THREE))
    facts.update(new_reservations(catalog, product))
    if opts.buckets:
        level = StockLevel.objects.get(merchant=catalog.merchant)
        facts.update(
            # Reservations went to the buckets: the level row was not written meanwhile.
            level_writes_during_run=level.version - level_version,
            reserved_per_bucket=list(
                StockBucket.objects.filter(stock_level=level)
                .order_by("number")
                .values_list("reserved", flat=True)
            ),
        )
    return throughput(product, ceiling, facts)


def spread(opts: Options) -> dict[str, Any]:
    """10,000 SKUs x 10 locations (100,000 levels), a random level per reservation."""
    products = 200 if opts.small else 10_000
    catalog = data.catalog("spread", products=products, locations=10, on_hand=1_000_000)
    facts: dict[str, Any] = {"stock_levels": products * 10, **settle(opts)}
    ceiling, _ = pgbench_reserve(
        opts, products=products, locations=10, on_hand=1_000_000, quantity=(1, 3)
    )
    product = product_run(opts, "spread", load_of(opts, "reserve.lua", catalog, **ONE_TO_THREE))
    facts.update(new_reservations(catalog, product))
    return throughput(product, ceiling, facts)


def flash_sellout(opts: Options) -> dict[str, Any]:
    """1,000 units of one SKU at one location, 20,000 one-unit reservations from 128
    connections. Checks exactly 1,000 reserved (in the database) and no 5xx.

    Sold out (server side): from the first request sent to the `created_at` of the last of the
    1,000 reservations (stamped when the request reached the reservation service, before its
    statement). Also reported: when the 1,000th 201 reached the client. Late 409s: with
    one-unit requests and nothing released during the run, every 409 is answered after the
    stock is gone; their latency is timed per request by the Lua script (wrk with one thread
    per connection). The ceiling: pgbench's one-statement reserve, one unit at a time, on a
    scratch row of 1,000 units, 20,000 transactions from its clients: sold out at the
    `created_at` (now() of the statement) of its last reservation, late refusals the
    transactions that started after that."""
    units, requests = (100, 2_000) if opts.small else (1_000, 20_000)
    catalog = data.catalog("flash", products=1, locations=1, on_hand=units)
    facts: dict[str, Any] = {"units": units, "requests": requests, **settle(opts)}

    ceiling, transactions = pgbench_reserve(
        opts, products=1, locations=1, on_hand=units, quantity=(1, 1), transactions=requests
    )
    state = ceiling["state"]
    began = min(t.started_at for t in transactions)
    sold_out_at = state["last_reservation_at"].timestamp() if state["reservations"] else None
    refusals = [t.latency_ms for t in transactions if sold_out_at and t.started_at > sold_out_at]
    ceiling.update(
        sold_out_s=round(sold_out_at - began, 3) if sold_out_at else None,
        late_refusal_p50_ms=wrk.percentile(refusals, 0.5),
        late_refusal_p99_ms=wrk.percentile(refusals, 0.99),
        exact=state["reserved"] == units == state["reservations"],
    )
    state["last_reservation_at"] = str(state["last_reservation_at"])

    load = load_of(
        opts,
        "reserve.lua",
        catalog,
        connections=FLASH_CONNECTIONS,
        seconds=max(opts.seconds * 4, FLASH_BOUND_SECONDS),
        track="latency",
        max_requests=requests,
    )
    product = product_run(opts, "flash", load)
    quiesce()
    level = StockLevel.objects.get(merchant=catalog.merchant)
    reservations = Reservation.objects.filter(merchant=catalog.merchant)
    last = reservations.order_by("-created_at").values_list("created_at", flat=True).first()
    started = product["started_at"]
    ok_times = product["ok_times"]
    late = product["latency_by_status"].get("409", {})
    statuses = product["statuses"]
    facts.update(
        reserved_units=level.reserved,
        reservations=reservations.count(),
        answered=sum(statuses.values()),
        stopped_by_time_bound=sum(statuses.values()) < requests,
        statuses=statuses,
        server_5xx=product["server_5xx"],
        socket_errors=product["socket_errors"],
        sold_out_s=round(last.timestamp() - started, 3) if last and started else None,
        sold_out_answered_s=(
            round(ok_times[units - 1] - started, 3) if len(ok_times) >= units else None
        ),
        late_409=late,
        exact=level.reserved == units == reservations.count() == statuses.get("201", 0),
        ceiling_exact=ceiling["exact"],
    )
    return {
        "row": {"exact": facts["exact"]}
        | row(
            facts["sold_out_s"],
            "s sold out",
            latencies=late,
            errors=errors_of(product),
            ceiling=ceiling["name"],
            ceiling_figure=ceiling["sold_out_s"],
            connections=FLASH_CONNECTIONS,
            ceiling_ratio=ratio(ceiling["sold_out_s"], facts["sold_out_s"]),
        ),
        "product": product,
        "ceiling": ceiling,
        "facts": facts,
        "verify": verify(),
    }


def _request(
    url: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers.update({"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
    try:
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _staleness_probe(
    catalog: data.Catalog, url: str, stop: threading.Event, samples: list[float]
) -> None:
    """Receive one unit over the API, then poll the API's availability until it shows: the
    time from the write's answer (after its commit) to the first read that reflects it, while
    the readers load the server."""
    sku, location = catalog.skus[0], catalog.locations[0]
    path = f"/api/v1/availability/{sku}/"
    expected = _request(url, "GET", path, catalog.token)[1]["available"]
    while not stop.is_set():
        status, _ = _request(
            url,
            "POST",
            "/api/v1/stock/receipts/",
            catalog.token,
            {"sku": sku, "location": location, "quantity": 1},
        )
        if status != 201:
            raise RuntimeError(f"The staleness probe's receipt was answered {status}.")
        committed, expected = time.perf_counter(), expected + 1
        while not stop.is_set():
            if _request(url, "GET", path, catalog.token)[1]["available"] >= expected:
                samples.append((time.perf_counter() - committed) * 1000)
                break
            if time.perf_counter() - committed > 30:
                samples.append(30_000.0)
                break
        time.sleep(0.05)


def availability_reads(opts: Options) -> dict[str, Any]:
    """Cached availability of random SKUs of 1,000 x 10 locations. Ceiling: the bare Django
    view (bench/bare_urls.py) on the product's HTTP command line, same workers and threads,
    same Lua script. Both servers are warmed up for a second first (not measured)."""
    products = 100 if opts.small else 1_000
    catalog = data.catalog("reads", products=products, locations=10, on_hand=100)
    facts: dict[str, Any] = settle(opts)

    with opts.stack.bare() as bare_url:
        wrk.run(load_of(opts, "availability.lua", catalog, url=bare_url, seconds=1))
        ceiling = wrk.run(load_of(opts, "availability.lua", catalog, url=bare_url))
    ceiling["name"] = "bare view"
    wrk.run(load_of(opts, "availability.lua", catalog, seconds=1))
    stop, samples = threading.Event(), []
    failures: list[BaseException] = []

    def probe() -> None:
        try:
            _staleness_probe(catalog, opts.stack.url, stop, samples)
        except BaseException as error:
            failures.append(error)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        product = product_run(opts, "reads", load_of(opts, "availability.lua", catalog))
    finally:
        stop.set()
        prober.join()
    if failures:
        raise failures[0]
    quiesce()
    facts.update(
        staleness_samples=len(samples),
        staleness_p50_ms=wrk.percentile(samples, 0.5),
        staleness_p99_ms=wrk.percentile(samples, 0.99),
        staleness_max_ms=max(samples) if samples else None,
    )
    return throughput(product, ceiling, facts)


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
    return {"seconds": round(elapsed, 2), "lines_per_s": round(len(lines) / elapsed, 1)}


def bulk_and_mixed(opts: Options) -> list[tuple[str, dict[str, Any]]]:
    """Bulk: 1,000,000 count lines (100,000 SKUs x 10 locations) through the bulk endpoint,
    100 requests of 10,000 lines, two at a time; its reference is the same batches through the
    bulk service in-process. Mixed: then 90 % availability reads / 10 % reservations (TTL 5 s,
    so the expiry sweeper has work) over those rows; its ceiling is pgbench running the same
    mix (9 reads of one product's levels to 1 one-statement reserve) on scratch tables of the
    same shape."""
    products = 1_000 if opts.small else 100_000
    catalog = data.catalog("bulk", products=products, locations=10, on_hand=0, stock=False)
    settled = settle(opts)
    lines = _count_lines(catalog)
    batches = [lines[i : i + 10_000] for i in range(0, len(lines), 10_000)]
    statuses: list[int] = []
    lock = threading.Lock()
    host, port = opts.stack.host, opts.stack.port

    def post_batches() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=600)
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
    reference = bulk_in_process(products)
    lines_per_s = round(len(lines) / elapsed, 1)
    bulk = {
        "row": row(
            lines_per_s,
            "lines/s",
            errors=sum(1 for s in statuses if s >= 500),
            ceiling="in-process",
            connections=2,
            ceiling_figure=reference["lines_per_s"],
        ),
        "product": {"seconds": round(elapsed, 2), "lines_per_s": lines_per_s},
        "ceiling": reference,
        "facts": {
            **settled,
            "lines": len(lines),
            "seconds": round(elapsed, 2),
            "requests": len(statuses),
            "statuses": {str(s): statuses.count(s) for s in set(statuses)},
            "stock_rows": totals["rows"],
            "on_hand_total": totals["on_hand"],
            "reference_seconds": reference["seconds"],
        },
        "verify": verify(),
    }

    facts: dict[str, Any] = settle(opts)
    with pgbench.scratch_tables(products, 10, 50) as scratch:
        ceiling, _ = pgbench.run(
            [(scratch.reserve_script(1, 2), 1), (scratch.read_script(), 9)],
            clients=opts.db_connections,
            seconds=opts.seconds,
        )
    ceiling["name"] = f"pgbench mix x{opts.db_connections}"
    load = load_of(opts, "mixed.lua", catalog, track="statuses", **MIXED)
    product = product_run(opts, "mixed", load)
    quiesce()
    counts = product["statuses"]
    facts.update(
        reads_per_s=round(counts.get("200", 0) / product["seconds"], 1),
        writes_per_s=round((counts.get("201", 0) + counts.get("409", 0)) / product["seconds"], 1),
        statuses=counts,
        expired_by_sweeper=LedgerEntry.objects.filter(
            merchant=catalog.merchant, reason=LedgerEntry.Reason.EXPIRE
        ).count(),
    )
    return [("bulk", bulk), ("mixed", throughput(product, ceiling, facts))]


def fan_out(opts: Options) -> dict[str, Any]:
    """500 websocket subscribers (all of the merchant's stock) while one SKU changes 20 times a
    second through the API (bench/fanout.py, in its own process)."""
    clients = 20 if opts.small else 500
    settled = settle(opts)
    catalog = data.catalog("fanout", products=1, locations=1, on_hand=10)
    job = {
        "host": opts.stack.host,
        "port": opts.stack.port,
        "ws_port": opts.stack.ws_port,
        "token": catalog.token,
        "clients": clients,
        "rate": 20,
        "seconds": opts.seconds,
        "sku": catalog.skus[0],
        "location": catalog.locations[0],
    }
    completed = subprocess.run(
        [sys.executable, "-m", "bench.fanout"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(),
        timeout=opts.seconds + 300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"The fan-out driver failed:\n{completed.stderr[-4000:]}")
    raw = json.loads(completed.stdout)
    latencies = raw["latencies_ms"]
    writes = sum(n for status, n in raw["writes"].items() if status == "201")
    delivery = {
        "p50_ms": wrk.percentile(latencies, 0.5),
        "p90_ms": wrk.percentile(latencies, 0.9),
        "p99_ms": wrk.percentile(latencies, 0.99),
        "max_ms": max(latencies) if latencies else None,
    }
    expected = writes * raw["connected"]
    facts = {
        **settled,
        "clients_connected": raw["connected"],
        "clients_failed": raw["failed"],
        "writes_201": writes,
        "writes_other": {k: v for k, v in raw["writes"].items() if k != "201"},
        "deliveries": len(latencies),
        "expected_deliveries": expected,
        "errors": raw["errors"],
    }
    return {
        "row": row(
            round(100 * len(latencies) / expected, 1) if expected else None,
            "% delivered",
            latencies=delivery,
            errors=raw["failed"],
            connections=clients,
        ),
        "product": delivery,
        "ceiling": None,
        "facts": facts,
        "verify": verify(),
    }


def soak(opts: Options) -> dict[str, Any]:
    """The mixed load (90 % reads, 10 % reservations with a 5 s TTL, so the sweeper works too)
    over `soak_minutes`, in one-minute rounds; the RSS of every server process after each
    round. Growth is the last round's RSS minus the first round's (after warm-up)."""
    minutes = max(1, round(opts.soak_minutes))
    catalog = data.catalog(
        "soak", products=100 if opts.small else 1_000, locations=10, on_hand=1_000_000
    )
    facts: dict[str, Any] = settle(opts)
    seconds = opts.seconds if opts.small else 60
    load = load_of(opts, "mixed.lua", catalog, seconds=seconds, track="statuses", **MIXED)
    samples, answered, rounds = [], 0, []
    for _ in range(minutes):
        result = wrk.run(load)
        rounds.append(result)
        answered += result["requests"]
        samples.append({name: m["rss_mb"] for name, m in opts.stack.memory().items()})
    quiesce()
    growth = {name: round(samples[-1].get(name, 0) - samples[0][name], 1) for name in samples[0]}
    facts.update(
        rounds=minutes,
        requests=answered,
        rss_first_round_mb=samples[0],
        rss_last_round_mb=samples[-1],
        growth_mb=growth,
    )
    web_growth = [mb for name, mb in growth.items() if name.startswith("web/")]
    return {
        "row": row(
            max(web_growth) if web_growth else None,
            "MiB growth",
            latencies=rounds[-1],
            errors=sum(errors_of(r) for r in rounds),
            connections=CONNECTIONS,
        ),
        "product": {"rounds": rounds},
        "ceiling": None,
        "facts": facts,
        "rss_by_round_mb": samples,
        "verify": verify(),
    }


SCENARIOS = {
    "hot": hot_sku,
    "flash": flash_sellout,
    "spread": spread,
    "reads": availability_reads,
    "bulk+mixed": bulk_and_mixed,
    "fanout": fan_out,
    "soak": soak,
}
