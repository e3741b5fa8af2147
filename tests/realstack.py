"""Real processes for integration tests: Celery workers and the web servers on the test
database and the test Redis, and a local webhook receiver. Each is bounded in time and
stopped by its owner."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings

from inventory_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests run on (the test database, once created)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        f"/{db['NAME']}"
    )


def process_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.05) -> object:
    """Poll until `condition()` is truthy; return it, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout} s")
        time.sleep(interval)


def declare_broker_queues() -> None:
    """(Re)declare the Celery queues: the autouse Redis flush removes kombu's bindings."""
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in celery_app.amqp.queues.values():
            queue(channel).declare()


def wait_until_workers_idle(timeout: float = 30) -> None:
    """Wait until the broker queue is empty and no worker runs a task: follow-up tasks (a
    dispatch queued by a commit, an alert notification) must not outlive the test, whose
    teardown empties the database."""

    broker = redis.Redis.from_url(settings.REDIS_URL)

    def idle() -> bool:
        if broker.llen(f"{settings.STOCKROOM_REDIS_PREFIX}:celery"):
            return False
        inspector = celery_app.control.inspect(timeout=0.5)
        busy = [*(inspector.active() or {}).values(), *(inspector.reserved() or {}).values()]
        return not any(busy)

    wait_for(idle, timeout=timeout, interval=0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def celery_workers(
    count: int = 1, timeout: float = 30, **settings_env: str
) -> Iterator[list[subprocess.Popen]]:
    """Start `count` real worker processes (one task at a time each), with extra environment
    settings, and wait until they all answer a ping; terminate them on exit."""
    declare_broker_queues()
    names = [f"test-{uuid.uuid4().hex[:8]}@localhost" for _ in range(count)]
    command = [sys.executable, "-m", "celery", "-A", "inventory_site", "worker", "--pool", "solo"]
    flags = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    # The workers queue follow-up tasks (webhook attempts, alert notifications) as in
    # production, instead of running them inline.
    env = process_env(CELERY_TASK_ALWAYS_EAGER="false", **settings_env)
    processes = [
        subprocess.Popen([*command, "--hostname", name, *flags], cwd=ROOT, env=env)
        for name in names
    ]
    try:

        def all_up() -> bool:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"Celery worker exited with {process.returncode}")
            replies = celery_app.control.ping(destination=names, timeout=0.5) or []
            return len(replies) == count

        wait_for(all_up, timeout=timeout, interval=0.2)
        yield processes
    finally:
        for process in processes:
            _stop(process)


@contextlib.contextmanager
def product_server(
    timeout: float = 30, port: int | None = None, ws_port: int | None = None
) -> Iterator[str]:
    """`manage.py serve --no-background` on the test database and Redis: HTTP (granian, WSGI)
    on `port` and websockets (uvicorn) on `ws_port`, free loopback ports by default; yields
    the HTTP base URL. The pages it serves open their websockets on `ws_port`."""
    port, ws_port = port or free_port(), ws_port or free_port()
    process = subprocess.Popen(
        [
            sys.executable, "manage.py", "serve", "--no-background", "--host", "127.0.0.1",
            "--port", str(port), "--ws-port", str(ws_port),
        ],
        cwd=ROOT,
        # DEBUG lets WhiteNoise serve the app's static files without collectstatic; Celery not
        # eager: the production arrangement (two servers), not the embedded single process.
        env=process_env(DJANGO_DEBUG="1", CELERY_TASK_ALWAYS_EAGER="false"),
        start_new_session=True,  # stopped as a group: the serve command and its two servers
    )  # fmt: skip
    try:

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            with socket.socket() as http, socket.socket() as ws:
                return (
                    http.connect_ex(("127.0.0.1", port)) == 0
                    and ws.connect_ex(("127.0.0.1", ws_port)) == 0
                )

        wait_for(listening, timeout=timeout, interval=0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A partner's endpoint on loopback: answers the scripted status codes in turn (the last
    one repeats) with `reply` as the body (and `location` as the Location header, if given),
    and records every request."""

    statuses: list[int]
    reply: bytes = b""
    location: str | None = None
    requests: list[ReceivedRequest] = field(default_factory=list)
    url: str = ""
    port: int = 0

    def status_for(self, index: int) -> int:
        return self.statuses[min(index, len(self.statuses) - 1)]


@contextlib.contextmanager
def webhook_receiver(
    statuses: list[int],
    *,
    host: str = "127.0.0.1",
    reply: bytes = b"",
    location: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(statuses=list(statuses), reply=reply, location=location)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                status = receiver.status_for(len(receiver.requests))
                receiver.requests.append(ReceivedRequest(dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.end_headers()
            self.wfile.write(receiver.reply or f"status {status}".encode())

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.port = server.server_address[1]
    scheme = "https" if tls is not None else "http"
    receiver.url = f"{scheme}://{host}:{receiver.port}/hooks/stock"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
