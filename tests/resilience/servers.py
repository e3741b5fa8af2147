"""Private PostgreSQL, Redis and web servers for tests that stop, kill or restart them.

Every server listens on loopback only, on a free port, with its data in a temporary directory,
and is stopped by the fixture that started it. The shared servers are never touched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout}s waiting for {what}")


def _pg_bin(name: str) -> str:
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if not found:
        pytest.fail(f"PostgreSQL server binaries ({name}) are not installed.")
    return found


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb into a temp dir, started on a free port."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log = data_dir.parent / f"postgres-{port}.log"

    @classmethod
    def create(cls, base: Path) -> PrivatePostgres:
        data = base / "primary"
        server = cls(data, free_port())
        server._run(
            [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
             "-E", "UTF8", "--locale=C"]
        )  # fmt: skip
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\nmax_connections = 60\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\n"
            )
        server.start()
        return server

    def replica(self) -> PrivatePostgres:
        """A streaming replica of this server (pg_basebackup -R), started on another port."""
        data = self.data_dir.parent / "replica"
        server = PrivatePostgres(data, free_port())
        self._run(
            [_pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-D", str(data), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        )  # fmt: skip
        server.start()
        return server

    @staticmethod
    def _run(args: list[str]) -> None:
        subprocess.run(_as_postgres(args), check=True, capture_output=True, timeout=START_TIMEOUT)

    def _ctl(self, *args: str) -> None:
        self._run(
            [_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log), "-t",
             str(START_TIMEOUT), "-w", *args]
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.data_dir}", "start")
        wait_for(self.is_up, START_TIMEOUT, f"PostgreSQL on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._ctl("-m", mode, "stop")

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def is_up(self) -> bool:
        try:
            psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def dsn(self, dbname: str = "stockroom") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def url(self, dbname: str = "stockroom") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []


class PrivateRedis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.is_up, 20, f"Redis on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def is_up(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


def django_env(**overrides: str) -> dict[str, str]:
    """Environment for a child Django process (local settings unless told otherwise)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "PYTEST_"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "inventory_site.settings.local", "DJANGO_DEBUG": "0"})
    env["PYTHONPATH"] = str(ROOT)
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


class Process:
    """A child process (web server, worker) with its output in a file, stopped on exit."""

    ws_port: int | None = None  # a web server's websocket port

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group this process leads (its pool children too)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log_file.close()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")


def web_server(env: dict[str, str], workdir: Path, workers: int = 1) -> tuple[Process, int]:
    """The product's own serve command (no background jobs) on free loopback ports: HTTP on
    the returned port, websockets on `process.ws_port`."""
    port, ws_port = free_port(), free_port()
    process = Process(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port",
         str(port), "--ws-port", str(ws_port), "--no-background", "--workers", str(workers)],
        env, workdir / f"web-{port}.log",
    )  # fmt: skip
    process.ws_port = ws_port
    import requests

    def answers() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"web server exited:\n{process.output()}")
        if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code != 200:
            return False
        with socket.create_connection(("127.0.0.1", ws_port), timeout=1):
            return True

    try:
        wait_for(answers, START_TIMEOUT, f"the web server on ports {port} and {ws_port}")
    except BaseException:
        process.stop()
        raise
    return process, port


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="stockroom-servers-"))
    os.chmod(path, 0o777)  # the postgres OS user writes its cluster here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def private_postgres(workdir: Path) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres.create(workdir)
    try:
        server.execute("CREATE DATABASE stockroom")
        yield server
    finally:
        server.stop("immediate")


@pytest.fixture
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Register child processes here; all are stopped at the end of the test."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


NGINX_CONF = """
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    upstream stockroom {{
{servers}
    }}
    upstream stockroom_websockets {{
{ws_servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location /ws/ {{
            proxy_pass http://stockroom_websockets;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
        }}
        location / {{
            proxy_pass http://stockroom;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout;
            add_header X-Upstream $upstream_addr always;
            add_header X-Proxy-Request-ID $request_id always;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        pytest.fail("nginx is not installed (apt-get install nginx; .ci/run installs it).")
    return found


def load_balancer(
    upstream_ports: list[int], workdir: Path, ws_ports: list[int] | None = None
) -> tuple[Process, int]:
    """nginx from the distribution, round-robin over the given loopback HTTP ports, and over
    `ws_ports` for `/ws/` (websocket upgrades)."""
    port = free_port()
    ws_ports = ws_ports or upstream_ports
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            workdir=workdir,
            port=port,
            servers="\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports),
            ws_servers="\n".join(f"        server 127.0.0.1:{p};" for p in ws_ports),
        )
    )
    process = Process(
        [nginx_binary(), "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"],
        dict(os.environ), workdir / "nginx.log",
    )  # fmt: skip

    def listening() -> bool:
        if process.popen.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{process.output()}")
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        wait_for(listening, 20, f"nginx on port {port}")
    except BaseException:
        process.stop()
        raise
    return process, port


def current_database_url() -> str:
    """URL of the database this test process uses (pytest's test database), for children."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
