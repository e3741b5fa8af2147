"""Drive HTTP load with wrk (Debian package `wrk`) and one of the Lua scripts of `bench/lua/`.

wrk is a C load generator: an epoll loop per thread, a LuaJIT state per thread building each
request. The scripts print one machine-readable line (`bench:result {...}`, see
`bench/lua/common.lua`), which `run` parses into throughput, latency percentiles, errors and,
where a scenario asks for them, status counts (`track="statuses"`: a Lua `response()` counter,
which makes wrk hand every response to Lua, so it costs wrk CPU) and per-request latencies by
status (`track="latency"`: one connection per wrk thread, so that `request()` and `response()`
of a thread alternate and the script can time each request).

Latency is closed-loop: each connection sends its next request when the previous one is
answered, so a stalled server sends fewer requests rather than more (coordinated omission).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"
TIMEOUT_SECONDS = 60  # wrk's own per-request timeout (its default, 2 s, drops slow answers)


@dataclass
class Load:
    """One wrk run: `script` (a file of bench/lua) against `url` with `connections` for
    `seconds`, its environment in `env` (BENCH_TOKEN, the catalog, the script's knobs)."""

    script: str
    url: str
    connections: int
    seconds: float
    threads: int = 2
    env: dict[str, str] = field(default_factory=dict)
    track: str = "none"  # none | statuses | latency
    # Stop once this many requests are answered (then `seconds` is only a bound). Needs
    # track="latency": with one connection per thread nothing is in flight when a thread stops.
    max_requests: int | None = None


def command(load: Load) -> list[str]:
    threads = load.connections if load.track == "latency" else min(load.threads, load.connections)
    return [
        "wrk", "--threads", str(threads), "--connections", str(load.connections),
        "--duration", f"{max(1, math.ceil(load.seconds))}s",
        "--timeout", f"{TIMEOUT_SECONDS}s", "--script", load.script, load.url,
    ]  # fmt: skip


def run(load: Load) -> dict[str, Any]:
    """Run wrk to completion; the parsed summary (see `summarize`)."""
    if load.max_requests and load.track != "latency":
        raise ValueError("max_requests needs track='latency' (one connection per thread)")
    argv = command(load)
    threads = int(argv[argv.index("--threads") + 1])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BENCH_NONCE": uuid.uuid4().hex,
        "BENCH_TRACK": load.track,
        "BENCH_THREADS": str(threads),
        "BENCH_MAX_REQUESTS": str(load.max_requests or 0),
        **load.env,
    }
    process = subprocess.Popen(
        argv, cwd=LUA_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)
    reader.start()
    lines, finished = [], 0
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("bench:thread-done"):
                finished += 1
                if finished == threads:
                    # wrk sleeps for its whole --duration; SIGINT ends it early, and it
                    # then prints its summary as usual.
                    process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    summary = next((ln for ln in lines if ln.startswith("bench:result ")), None)
    if process.returncode != 0 or summary is None:
        raise RuntimeError(
            f"wrk failed (exit {process.returncode}): {' '.join(argv)}\n"
            + "".join(lines[-20:])
            + "".join(stderr[-20:])
        )
    result = summarize(json.loads(summary.removeprefix("bench:result ")))
    result.update(connections=load.connections, threads=threads, script=load.script)
    return result


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else round(microseconds / 1000, 2)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []  # an empty Lua table encodes as {}


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """`ops_per_s` counts 2xx/3xx answers (wrk counts a status of 400 or more as an error);
    `answered_per_s` every answer; latencies (ms) cover every answer, from wrk's histogram;
    `latency_by_status` (track="latency") from the script's own timing."""
    seconds = raw["duration_us"] / 1e6
    errors = raw["errors"]
    non_2xx = errors["status"]
    ok = raw["requests"] - non_2xx
    latency = raw["latency_us"]
    statuses = {code: int(n) for code, n in (raw.get("statuses") or {}).items()}
    by_status = {
        code: {
            "n": len(values),
            "p50_ms": _ms(percentile(values, 0.50)),
            "p90_ms": _ms(percentile(values, 0.90)),
            "p99_ms": _ms(percentile(values, 0.99)),
            "max_ms": _ms(max(values)),
        }
        for code, values in (raw.get("latencies_us") or {}).items()
        if isinstance(values, list) and values
    }
    first_sent = _list(raw.get("first_sent_us"))
    return {
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "ok": ok,
        "non_2xx": non_2xx,
        "ops_per_s": round(ok / seconds, 1) if seconds else 0.0,
        "answered_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": _ms(latency["p50"]),
        "p90_ms": _ms(latency["p90"]),
        "p99_ms": _ms(latency["p99"]),
        "max_ms": _ms(latency["max"]),
        "mean_ms": _ms(latency["mean"]),
        "socket_errors": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "statuses": statuses,
        "server_5xx": sum(n for code, n in statuses.items() if code.startswith("5")),
        "latency_by_status": by_status,
        # Epoch seconds: when the first request left, and when each 2xx answer arrived.
        "started_at": min(first_sent) / 1e6 if first_sent else None,
        "ok_times": sorted(t / 1e6 for t in _list(raw.get("ok_times_us"))),
    }
