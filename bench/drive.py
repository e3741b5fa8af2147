"""Run one driver (HTTP load generator, raw psycopg ceiling, in-process service) in its own
process and summarize what it recorded."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from bench.stack import ROOT, child_env

DRIVERS = {
    "api": "bench.loadgen",
    "psycopg": "bench.ceiling",
    "service": "bench.inprocess",
    "fanout": "bench.fanout",
}


def run_driver(driver: str, job: dict[str, Any], *, pool: int = 4) -> dict[str, Any]:
    """Run a driver to completion (it is bounded by job["seconds"] and job["max_requests"])."""
    completed = subprocess.run(
        [sys.executable, "-m", DRIVERS[driver]],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(DATABASE_POOL_MAX=str(pool + 2), DATABASE_POOL_MIN="1"),
        timeout=float(job["seconds"]) + 300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"Driver {driver} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout)


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize(driver: str, concurrency: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Throughput counts successful operations; latency percentiles cover every answered
    request (successes and refusals alike)."""
    statuses: dict[str, int] = raw["statuses"]
    latencies = [ms for values in raw["latencies_ms"].values() for ms in values]
    ok = sum(n for key, n in statuses.items() if key.split(":")[1] in ("200", "201"))
    conflicts = sum(n for key, n in statuses.items() if key.endswith(":409"))
    server_errors = sum(n for key, n in statuses.items() if key.split(":")[1].startswith("5"))
    other = sum(statuses.values()) - ok - conflicts - server_errors
    return {
        "driver": driver,
        "concurrency": concurrency,
        "seconds": round(raw["elapsed"], 2),
        "ops_per_s": round(ok / raw["elapsed"], 1) if raw["elapsed"] else 0.0,
        "answered_per_s": round(sum(statuses.values()) / raw["elapsed"], 1),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "ok": ok,
        "conflict_409": conflicts,
        "server_5xx": server_errors,
        "other_4xx": other,
        "transport_errors": raw["errors"],
        "statuses": statuses,
        "success_times": raw["success_times"],
        "latencies_by_status": {
            key: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99), "n": len(v)}
            for key, v in raw["latencies_ms"].items()
        },
    }


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
