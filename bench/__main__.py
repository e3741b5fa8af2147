"""`python -m bench`: bring up the stack, load data, run each scenario beside its ceiling, print
one table.

    python -m bench                      # every scenario but the soak, 30 s per measurement
    python -m bench --seconds 3 --small  # a quick look
    python -m bench --runs 3             # medians of three runs (what BENCHMARKS.md quotes)
    python -m bench --scenarios hot --profile hot   # py-spy on one HTTP worker meanwhile

Uses DATABASE_URL / REDIS_URL, whose database (and the deployment's Redis keys) is EMPTIED
first: point them at a database kept for benchmarks. Results go to bench/results/<time>.json.
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
PROFILED = ("hot", "flash", "spread", "reads", "mixed")  # scenarios with a wrk product run
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="Per measurement (ceiling, product)."
    )
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
        "--workers",
        type=int,
        default=(os.cpu_count() or 2) * 2,
        help="HTTP worker processes (default: 2 per CPU).",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="Threads per HTTP worker (default: STOCKROOM_HTTP_THREADS, 4).",
    )
    parser.add_argument(
        "--db-connections",
        type=int,
        default=None,
        help="pgbench clients (default: workers x threads, the HTTP workers' database "
        "connections).",
    )
    parser.add_argument(
        "--wrk-threads", type=int, default=2, help="wrk threads (flash: one per connection)."
    )
    parser.add_argument(
        "--buckets",
        type=int,
        default=0,
        help="Hot scenario: split the hot level's reservable units over this many stock "
        "buckets (0: one row, the default). The ceiling stays one row.",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILED,
        default=None,
        help="Record a py-spy profile (--gil) of one HTTP worker during this scenario's "
        "product run (first run only), into bench/results/.",
    )
    parser.add_argument(
        "--profile-format",
        choices=("raw", "speedscope"),
        default="raw",
        help="raw: collapsed stacks, summarised in the report; speedscope: for speedscope.app.",
    )
    parser.add_argument("--no-background", action="store_true", help="No Celery worker/beat.")
    parser.add_argument("--output", type=Path, default=None, help="Where to write the JSON.")
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace, names: list[str], *, profile: str | None) -> dict[str, Any]:
    from bench import data
    from bench.scenarios import SCENARIOS, Options, warm_up
    from bench.stack import Stack

    data.reset()
    results: dict[str, Any] = {}
    with Stack(
        workers=args.workers, threads=args.threads, background=not args.no_background
    ) as stack:
        opts = Options(
            seconds=args.seconds,
            small=args.small,
            stack=stack,
            db_connections=args.db_connections or stack.db_concurrency,
            wrk_threads=args.wrk_threads,
            soak_minutes=args.soak_minutes,
            buckets=args.buckets,
            profile=profile,
            profile_format=args.profile_format,
            results_dir=RESULTS,
            stamp=time.strftime("%Y%m%dT%H%M%S"),
        )
        warm_up(opts)
        for name in names:
            print(f"  {name} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            outcome = SCENARIOS[name](opts)
            parts = outcome if isinstance(outcome, list) else [(name, outcome)]
            for part_name, part in parts:
                part["wall_s"] = round(time.perf_counter() - began, 1)
                results[part_name] = part
        results["_memory"] = stack.memory()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIO_NAMES)
    if unknown:
        print(f"Unknown scenarios: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    load_at_start = os.getloadavg()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    from bench.data import prepare_database
    from bench.report import load_line, machine, render

    # Benchmarks on a busy machine mislead: say how busy it is before anything starts.
    print(load_line(load_at_start, os.cpu_count()), flush=True)
    args.threads = args.threads or settings.STOCKROOM_HTTP_THREADS
    if args.profile:
        from bench.profile import executable

        executable()  # fail now, not after loading the data
    prepare_database()
    runs = []
    for index in range(args.runs):
        print(f"run {index + 1}/{args.runs}", file=sys.stderr, flush=True)
        runs.append(run_once(args, names, profile=args.profile if index == 0 else None))
    report = {
        "machine": {**machine(), "loadavg_at_start": load_at_start},
        "argv": sys.argv[1:] if argv is None else argv,
        "workers": args.workers,
        "threads": args.threads,
        "db_connections": args.db_connections or args.workers * args.threads,
        "wrk_threads": args.wrk_threads,
        "buckets": args.buckets,
        "seconds": args.seconds,
        "runs": runs,
    }
    output = args.output or RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, default=str))
    print(render(report))
    print(f"\nFull results: {output}")
    clean = all(
        (part.get("verify") or {}).get("clean", True)
        for run in runs
        for key, part in run.items()
        if not key.startswith("_")
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
