"""`python -m bench`: bring up the stack, load data, run each scenario, print one table.

    python -m bench                      # every scenario, 30 s each, one run
    python -m bench --seconds 5 --small  # a quick look
    python -m bench --runs 3             # medians of three runs (what BENCHMARKS.md quotes)
    python -m bench --scenarios hot --buckets 8   # the hot SKU split over 8 stock buckets

Uses DATABASE_URL / REDIS_URL, whose database is EMPTIED first: point them at a database
kept for benchmarks. Results go to bench/results/<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SCENARIO_NAMES = ("hot", "flash", "spread", "reads", "bulk+mixed", "fanout", "soak")
DEFAULT_SCENARIOS = SCENARIO_NAMES[:-1]  # the soak runs only when asked for


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="Per driver and scenario.")
    parser.add_argument("--runs", type=int, default=1, help="Repeat; the table shows medians.")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"Any of {', '.join(SCENARIO_NAMES)}.",
    )
    parser.add_argument(
        "--soak-minutes", type=float, default=10, help="Length of the soak scenario."
    )
    parser.add_argument("--small", action="store_true", help="Small data sets (smoke runs).")
    parser.add_argument(
        "--workers", type=int, default=(os.cpu_count() or 2) * 2, help="ASGI worker processes."
    )
    parser.add_argument(
        "--db-connections",
        type=int,
        default=16,
        help="Connections (= concurrent clients) of the raw psycopg and in-process drivers.",
    )
    parser.add_argument(
        "--ceiling-shape",
        choices=("fused", "split"),
        default="fused",
        help="Transaction shape of the raw psycopg reservation: the product's (fused) or the "
        "earlier split one (level lookup, reservation and line inserts as separate statements).",
    )
    parser.add_argument(
        "--buckets",
        type=int,
        default=0,
        help="Hot scenario: split the hot level's reservable units over this many stock "
        "buckets (0: one row, the default). The raw psycopg driver then runs the bucket "
        "statement.",
    )
    parser.add_argument("--no-background", action="store_true", help="No Celery worker/beat.")
    parser.add_argument("--output", type=Path, default=None, help="Where to write the JSON.")
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    from bench import data
    from bench.scenarios import SCENARIOS, Options
    from bench.stack import Stack

    data.reset()
    results: dict[str, Any] = {}
    with Stack(workers=args.workers, background=not args.no_background) as stack:
        opts = Options(
            seconds=args.seconds,
            small=args.small,
            db_connections=args.db_connections,
            stack=stack,
            shape=args.ceiling_shape,
            soak_minutes=args.soak_minutes,
            buckets=args.buckets,
        )
        for name in names:
            began = time.perf_counter()
            outcome = SCENARIOS[name](opts)
            parts = outcome if isinstance(outcome, list) else [(name, outcome)]
            for part_name, part in parts:
                part["wall_s"] = round(time.perf_counter() - began, 1)
                results[part_name] = part
                print(f"  {part_name}: done", file=sys.stderr, flush=True)
        results["_memory"] = stack.memory()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    import django

    django.setup()
    from bench.report import machine, render

    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIO_NAMES)
    if unknown:
        print(f"Unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    from bench.data import prepare_database

    prepare_database()
    load_at_start = os.getloadavg()
    runs = []
    for index in range(args.runs):
        print(f"run {index + 1}/{args.runs}", file=sys.stderr, flush=True)
        runs.append(run_once(args, names))
    report = {
        "machine": {**machine(), "loadavg_at_start": load_at_start},
        "argv": sys.argv[1:] if argv is None else argv,
        "workers": args.workers,
        "db_connections": args.db_connections,
        "buckets": args.buckets,
        "seconds": args.seconds,
        "runs": runs,
    }
    output = (
        args.output or Path(__file__).parent / "results" / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, default=str))
    print(render(report))
    print(f"\nFull results: {output}")
    clean = all(
        part.get("verify", {}).get("clean", True)
        for run in runs
        for key, part in run.items()
        if not key.startswith("_")
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
