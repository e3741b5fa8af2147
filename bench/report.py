"""The table: one block per scenario, one line per driver of the reference chain, medians over
runs; then the scenario's own figures, `inventory_verify`'s verdict and memory."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

from bench.drive import median

COLUMNS = (
    ("driver", "driver", 8), ("conc", "concurrency", 5), ("ops/s", "ops_per_s", 9),
    ("p50 ms", "p50_ms", 8), ("p95 ms", "p95_ms", 8), ("p99 ms", "p99_ms", 8),
    ("ok", "ok", 8), ("409", "conflict_409", 7), ("5xx+err", "_errors", 8),
    ("of ceiling", "of_ceiling", 10),
)  # fmt: skip


def machine() -> dict[str, Any]:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    return {
        "cpus": os.cpu_count(),
        "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "memory": sh("free -h | awk '/Mem:/ {print $2}'"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": sh("psql --version"),
        "loadavg_at_end": os.getloadavg(),
    }


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = (
            f"{value:.3f}" if value < 10 else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
        )
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return text.rjust(width)


def _median_rows(runs: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    first = runs[0][scenario]["rows"]
    merged = []
    for index, row in enumerate(first):
        samples = [run[scenario]["rows"][index] for run in runs]
        out = {"driver": row["driver"], "concurrency": row["concurrency"]}
        for _, key, _ in COLUMNS[2:]:
            if key == "_errors":
                values = [s["server_5xx"] + s["transport_errors"] for s in samples]
            else:
                values = [s.get(key) for s in samples]
            out[key] = median(values)
        merged.append(out)
    return merged


def _facts(facts: dict[str, Any]) -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, dict):
            return "{" + _facts(value) + "}"
        if isinstance(value, float):
            return f"{value:.3g}" if value < 100 else f"{value:,.0f}"
        return str(value)

    return ", ".join(f"{key}={fmt(value)}" for key, value in facts.items())


def render(report: dict[str, Any]) -> str:
    runs = report["runs"]
    lines = [
        f"Stockroom benchmarks: {report['machine']['cpus']} CPUs, {report['workers']} ASGI "
        f"workers, {report['seconds']:g} s per driver, medians of {len(runs)} run(s). "
        f"Drivers: psycopg = the same transaction on raw psycopg (the ceiling), service = "
        f"services called in-process, api = HTTP through the ASGI server.",
        "Load average (1, 5, 15 min) at start {} and end {}.".format(
            *(
                ", ".join(f"{x:.1f}" for x in report["machine"].get(k, ()))
                for k in ("loadavg_at_start", "loadavg_at_end")
            )
        ),
    ]
    header = " ".join(title.rjust(width) for title, _, width in COLUMNS)
    for scenario in runs[0]:
        if scenario.startswith("_"):
            continue
        part = runs[0][scenario]
        lines += ["", f"== {scenario}", header]
        for row in _median_rows(runs, scenario):
            lines.append(" ".join(_cell(row.get(key), width) for _, key, width in COLUMNS))
        for run_index, run in enumerate(runs):
            facts = run[scenario]["facts"]
            if facts:
                label = f"run {run_index + 1}: " if len(runs) > 1 else ""
                lines.append(f"   {label}{_facts(facts)}")
        verdicts = {run[scenario]["verify"]["output"].splitlines()[-1] for run in runs}
        lines.append(f"   inventory_verify: {' | '.join(sorted(verdicts))}")
        del part
    lines.append("")
    lines.append("Peak memory (MiB, last run): " + ", ".join(
        f"{name} {m['peak_mb']}" for name, m in runs[-1].get("_memory", {}).items()
    ))  # fmt: skip
    return "\n".join(lines)
