"""Bring up the product's processes on loopback: the ASGI server (uvicorn, N workers) and a
Celery worker and beat, against the PostgreSQL database and Redis db named by DATABASE_URL and
REDIS_URL. Every process is started here and stopped here, by its own pid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every process the harness starts: production-like (no DEBUG, so no
    query log growing in memory), the API's rate limit out of the way, quiet logs."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="inventory_site.settings.local",
        DJANGO_DEBUG="0",
        DJANGO_LOG_LEVEL="WARNING",
        STOCKROOM_API_RATE_LIMIT="1000000000/s",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def descendants(pid: int) -> list[int]:
    """Pids of every process under `pid` (from /proc), children first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            pending.append(child)
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of one process in MiB, from /proc/<pid>/status."""
    rss = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, peak


@dataclass
class Stack:
    workers: int
    background: bool = True
    pool_max: int = 4
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path = ROOT / "bench" / "results" / "logs"

    def start(self) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = child_env(DATABASE_POOL_MAX=str(self.pool_max), DATABASE_POOL_MIN="1")
        python = sys.executable
        self._spawn(
            "web",
            [
                python, "-m", "uvicorn", "inventory_site.asgi:application",
                "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
                "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                "--loop", "uvloop", "--http", "httptools", "--backlog", "4096",
            ],
            env,
        )  # fmt: skip
        if self.background:
            celery = [python, "-m", "celery", "-A", "inventory_site"]
            self._spawn(
                "celery-worker",
                [
                    *celery,
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    "1",
                    "--pool",
                    "solo",
                ],
                env,
            )
            self._spawn("celery-beat", [*celery, "beat", "--loglevel", "WARNING"], env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        expected = self.workers if self.workers > 1 else 0  # one worker: no supervisor
        while time.monotonic() < deadline:
            web = self.processes["web"]
            if web.poll() is not None:
                raise RuntimeError(f"The web server exited; see {self.log_dir / 'web.log'}.")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    sock.sendall(b"GET /api/v1/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    if sock.recv(12).startswith(b"HTTP/1.1") and (
                        len(descendants(web.pid)) >= expected
                    ):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("The web server did not become ready in time.")

    def memory(self) -> dict[str, dict[str, float]]:
        """Current and peak RSS per server process (the web parent, each worker, Celery)."""
        report: dict[str, dict[str, float]] = {}
        for name, process in self.processes.items():
            pids = [process.pid, *descendants(process.pid)]
            for index, pid in enumerate(pids):
                label = name if index == 0 else f"{name}/{index}"
                rss, peak = memory_mb(pid)
                if peak:
                    report[label] = {"rss_mb": round(rss, 1), "peak_mb": round(peak, 1)}
        return report

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
