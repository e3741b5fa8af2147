"""The table: one line per scenario (medians over runs): the product's figure and latencies,
its ceiling in the same run and the ratio, the target of the issue and whether it is met (and
by how much it is missed); then each run's facts, the profile and memory."""

from __future__ import annotations

import operator
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from typing import Any

CEILINGS = {
    "pgbench xN": "pgbench, N clients (the HTTP workers' database connections): one statement "
    "in autocommit (guarded UPDATE of a level + ledger insert + reservation insert) on scratch "
    "tables of the scenario's shape; flash: its time to sell out",
    "pgbench mix xN": "the same statement and one product's availability query, 1 to 9",
    "bare view": "a bare Django JSON view (no middleware) on the product's HTTP command line",
    "in-process": "the same bulk batches through the bulk service, in-process, no HTTP",
}


@dataclass(frozen=True)
class Check:
    key: str  # of the row
    op: str  # ">=", "<=", ">"
    bound: float
    label: str  # "{value}" is the row's value, formatted

    def holds(self, row: dict[str, Any]) -> bool | None:
        value = row.get(self.key)
        if value is None:
            return None
        return {">=": operator.ge, "<=": operator.le, ">": operator.gt}[self.op](value, self.bound)

    def shortfall(self, row: dict[str, Any]) -> str:
        value = row.get(self.key)
        if value is None:
            return f"{self.label.format(value='-')}: not measured"
        if isinstance(value, bool):
            return self.label.format(value=_number(value))
        gap = f" ({(value - self.bound) / self.bound:+.0%})" if self.bound else ""
        return f"{self.label.format(value=_number(value))} vs {self.op} {_number(self.bound)}{gap}"


@dataclass(frozen=True)
class Target:
    text: str
    checks: tuple[Check, ...] = ()
    stretch: Check | None = None


TARGETS = {
    "hot": Target(
        ">=1,000/s, >=1/3 ceiling, p99 <=150 ms",
        (
            Check("figure", ">=", 1000, "{value}/s"),
            Check("ratio", ">=", 1 / 3, "ratio {value}"),
            Check("p99_ms", "<=", 150, "p99 {value} ms"),
        ),
        stretch=Check("ratio", ">", 1.0, "ratio {value}"),
    ),
    "spread": Target(
        ">=1,500/s, p99 <=100 ms",
        (Check("figure", ">=", 1500, "{value}/s"), Check("p99_ms", "<=", 100, "p99 {value} ms")),
    ),
    "reads": Target(
        ">=6,000/s, >=1/4 bare view, p99 <=50 ms",
        (
            Check("figure", ">=", 6000, "{value}/s"),
            Check("ratio", ">=", 0.25, "ratio {value}"),
            Check("p99_ms", "<=", 50, "p99 {value} ms"),
        ),
    ),
    "flash": Target(
        "exact, 0 5xx, sold out <=2 s, late 409 p99 <=50 ms",
        (
            Check("exact", ">=", 1, "exactly the units reserved: {value}"),
            Check("errors", "<=", 0, "{value} 5xx/socket errors"),
            Check("figure", "<=", 2, "sold out in {value} s"),
            Check("p99_ms", "<=", 50, "late 409 p99 {value} ms"),
        ),
    ),
    "bulk": Target(
        "1,000,000 lines <=60 s (earlier)", (Check("figure", ">=", 1e6 / 60, "{value} lines/s"),)
    ),
    "fanout": Target(
        "all delivered, p99 <=250 ms (earlier)",
        (
            Check("figure", ">=", 100, "{value} % delivered"),
            Check("p99_ms", "<=", 250, "p99 {value} ms"),
        ),
    ),
    "soak": Target("no growth (earlier)"),
}

# How a row's values are merged over runs: medians, except the worst run for errors and
# exactness.
WORST = {"errors": max, "exact": min}


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
        "wrk": sh("wrk --version 2>&1 | head -1"),
        "loadavg_at_end": os.getloadavg(),
    }


def load_line(load: tuple[float, float, float], cpus: int | None) -> str:
    line = f"Load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load)} on {cpus} CPUs"
    if load[0] >= 0.5:
        line += ": the machine is busy, the figures will understate the product and ceilings"
    return line + "."


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def merge(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from each run's row: medians (worst run for errors and exactness)."""
    merged: dict[str, Any] = {}
    for key in rows[0]:
        values = [r.get(key) for r in rows if r.get(key) is not None]
        if not values:
            merged[key] = None
        elif isinstance(values[0], str):
            merged[key] = values[0]
        elif key in WORST:
            merged[key] = WORST[key](values)
        else:
            merged[key] = statistics.median(values)
    return merged


def verdict(name: str, row: dict[str, Any]) -> tuple[str, list[str]]:
    target = TARGETS.get(name)
    if target is None or not target.checks:
        return "-", []
    missed = [check.shortfall(row) for check in target.checks if not check.holds(row)]
    return ("met" if not missed else "MISSED"), missed


COLUMNS = (
    ("scenario", 8, "<"), ("conns", 5, ">"), ("result", 17, ">"), ("p50 ms", 7, ">"),
    ("p90 ms", 7, ">"), ("p99 ms", 7, ">"), ("max ms", 7, ">"), ("errors", 6, ">"),
    ("ceiling", 16, "<"), ("ceiling result", 16, ">"), ("ratio", 6, ">"),
    ("target", 50, "<"), ("verdict", 7, "<"), ("verify", 6, "<"),
)  # fmt: skip


def _line(cells: list[str]) -> str:
    return " ".join(
        f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, COLUMNS, strict=True)
    ).rstrip()


def render(report: dict[str, Any]) -> str:
    runs = report["runs"]
    names = [name for name in runs[0] if not name.startswith("_")]
    lines = [
        f"Stockroom benchmarks: {report['workers']} HTTP workers x {report['threads']} threads "
        f"(granian WSGI), wrk with {report['wrk_threads']} threads, {report['seconds']:g} s per "
        f"measurement, medians of {len(runs)} run(s).",
        load_line(report["machine"]["loadavg_at_start"], report["machine"]["cpus"]),
        "",
        _line([title for title, _, _ in COLUMNS]),
    ]
    notes: list[str] = []
    for name in names:
        row = merge([run[name]["row"] for run in runs if name in run])
        state, missed = verdict(name, row)
        verified = [run[name].get("verify") for run in runs if name in run]
        clean = (
            "-" if not any(verified) else "clean" if all(v["clean"] for v in verified) else "DRIFT"
        )
        result = f"{_number(row['figure'])} {row['unit']}"
        cells = [
            name, _number(row.get("connections")), result, *(
                _number(row.get(key)) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")
            ), _number(row.get("errors")), row.get("ceiling") or "-",
            f"{_number(row.get('ceiling_figure'))} {row['unit']}" if row.get("ceiling") else "-",
            _number(row.get("ratio")), TARGETS[name].text if name in TARGETS else "-", state,
            clean,
        ]  # fmt: skip
        lines.append(_line(cells))
        if missed:
            notes.append(f"  {name} missed: {'; '.join(missed)}")
        stretch = TARGETS[name].stretch if name in TARGETS else None
        if stretch is not None:
            above = stretch.holds(row)
            notes.append(
                f"  {name} stretch (above the ceiling, ratio > 1): {'met' if above else 'not met'}"
            )
    lines += ["", *notes] if notes else []
    lines += ["", "Ceilings (same run, same machine):"]
    lines += [f"  {key}: {text}" for key, text in CEILINGS.items()]
    lines += [
        "  ratio: product / ceiling (flash: the ceiling's time to sell out / the product's)",
        "  errors: 5xx answers and socket errors, worst run; latencies cover every answer "
        "(flash: its late 409s)",
        "",
        "Facts:",
    ]
    for name in names:
        for index, run in enumerate(runs):
            if name not in run:
                continue
            label = f" (run {index + 1})" if len(runs) > 1 else ""
            lines.append(f"  {name}{label}: {_facts(run[name]['facts'])}")
            verified = run[name].get("verify")
            if verified:
                lines.append(f"    inventory_verify: {verified['output'].splitlines()[-1]}")
            profile = (run[name].get("product") or {}).get("profile")
            if profile:
                lines += _profile_lines(profile)
    memory = runs[-1].get("_memory", {})
    lines += ["", "Peak memory (MiB, last run): " + ", ".join(
        f"{name} {m['peak_mb']}" for name, m in memory.items()
    )]  # fmt: skip
    return "\n".join(lines)


def _facts(facts: dict[str, Any]) -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, dict):
            return "{" + _facts(value) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(fmt(v) for v in value) + "]"
        return _number(value)

    return ", ".join(f"{key}={fmt(value)}" for key, value in facts.items())


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    lines = [f"    py-spy profile of HTTP worker {profile['pid']}: {profile['path']}"]
    if profile.get("error"):
        return [*lines, f"      failed: {profile['error']}"]
    for kind in ("self", "product code, inclusive"):
        if profile.get(kind):
            lines.append(f"      top by {kind} share of {profile['samples']} GIL samples:")
            lines += [f"        {share:5.1f} %  {frame}" for frame, share in profile[kind]]
    return lines
