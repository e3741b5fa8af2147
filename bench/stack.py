"""Bring up the product's processes on loopback, as `manage.py serve` does on the production
stack: granian serving HTTP over WSGI (the product's own command line,
`serve.http_server_command`, N workers x T threads), uvicorn serving the websockets
(`serve.websocket_server_command`), a Celery worker and Celery beat, against the PostgreSQL
database and Redis db named by DATABASE_URL and REDIS_URL. `Stack.bare()` serves the bare
Django view (bench/wsgi_bare.py) with the same command line: the ceiling of HTTP reads. Every
process is started here and stopped here, by its own pid."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apps.core.management.commands.serve import http_server_command, websocket_server_command

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_WSGI = "inventory_site.wsgi:application"
BARE_WSGI = "bench.wsgi_bare:application"
CELERY_CONCURRENCY = 2  # what `manage.py serve` starts beside the web servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of every process the harness starts: production-like (no DEBUG, so no
    query log growing in memory), the API's rate limit lifted (its budget is still spent on
    every request), quiet logs."""
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


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    workers: int
    threads: int
    background: bool = True
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path = ROOT / "bench" / "results" / "logs"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def db_concurrency(self) -> int:
        """Database connections the HTTP workers can use at once: every worker thread holds at
        most one pooled connection while it serves a request (the pool allows `threads`)."""
        return self.workers * self.threads

    def _env(self) -> dict[str, str]:
        return child_env(
            DATABASE_POOL_MAX=str(self.threads),
            DATABASE_POOL_MIN="1",
            STOCKROOM_WEBSOCKET_PORT=str(self.ws_port),
        )

    def _http_command(self, port: int, application: str = PRODUCT_WSGI) -> list[str]:
        argv = http_server_command(
            host=self.host, port=port, workers=self.workers, threads=self.threads
        )
        if argv.count(PRODUCT_WSGI) != 1:
            raise RuntimeError(f"Expected {PRODUCT_WSGI} once in the HTTP command line: {argv}")
        return [application if arg == PRODUCT_WSGI else arg for arg in argv]

    def start(self) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        self._spawn("web", self._http_command(self.port), env)
        self._spawn(
            "websockets",
            websocket_server_command(host=self.host, port=self.ws_port, workers=1),
            env,
        )
        if self.background:
            celery = [sys.executable, "-m", "celery", "-A", "inventory_site"]
            self._spawn(
                "celery-worker",
                [*celery, "worker", "--loglevel", "WARNING",
                 "--concurrency", str(CELERY_CONCURRENCY)],
                env,
            )  # fmt: skip
            self._spawn("celery-beat", [*celery, "beat", "--loglevel", "WARNING"], env)
        try:
            _wait_ready(self.processes["web"], self.host, self.port, self.workers, "web")
            _wait_ready(self.processes["websockets"], self.host, self.ws_port, 0, "websockets")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def http_workers(self) -> list[int]:
        """Pids of the HTTP worker processes (granian's children)."""
        return descendants(self.processes["web"].pid)

    @contextlib.contextmanager
    def bare(self) -> Iterator[str]:
        """The bare Django view served by the product's HTTP command line (same server, workers
        and threads) on its own port, for as long as the block runs; yields its URL."""
        port = free_port()
        process = self._spawn("bare", self._http_command(port, BARE_WSGI), self._env())
        try:
            _wait_ready(process, self.host, port, self.workers, "bare")
            yield f"http://{self.host}:{port}"
        finally:
            _stop([process])
            del self.processes["bare"]

    def memory(self) -> dict[str, dict[str, float]]:
        """Current and peak RSS per server process (each server, each of its workers)."""
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
        _stop(list(self.processes.values()))
        self.processes.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_ready(
    process: subprocess.Popen, host: str, port: int, workers: int, name: str, timeout: float = 60
) -> None:
    """Until the server answers HTTP on its port and has its `workers` worker processes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The {name} server exited; see bench/results/logs/{name}.log.")
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1") and (
                    len(descendants(process.pid)) >= workers
                ):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"The {name} server did not become ready in time.")
