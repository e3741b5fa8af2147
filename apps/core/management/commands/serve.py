"""Start the product.

On the production stack (REDIS_URL set) HTTP and websockets are served by two servers, each
the best at its half: granian's WSGI interface runs Django's synchronous views on worker
threads with no event loop in between (`inventory_site.wsgi`), and uvicorn serves the Channels
websockets (`inventory_site.asgi`) on the next port. A Celery worker and beat run beside them
unless `--no-background`. Behind a proxy, route `/ws/` to the websocket port and everything
else to the HTTP port (`deploy/nginx.conf`) and set `STOCKROOM_WEBSOCKET_PORT` empty; without
one, the pages are told the websocket port (`STOCKROOM_WEBSOCKET_PORT`, set here).

On embedded defaults (no REDIS_URL) there is no broker and the channel layer lives in memory:
one uvicorn process serves both HTTP and websockets, and runs the periodic jobs and event
publishing itself, from a task on its event loop (see `apps.core.embedded_scheduler`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core import embedded_scheduler


def http_server_command(
    *, host: str, port: int, workers: int, threads: int, backlog: int = 2048
) -> list[str]:
    """granian serving `inventory_site.wsgi` (HTTP only; websockets go to the ASGI server)."""
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "inventory_site.wsgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--blocking-threads", str(threads), "--backlog", str(backlog), "--no-ws",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def websocket_server_command(*, host: str, port: int, workers: int) -> list[str]:
    """uvicorn serving the Channels websockets of `inventory_site.asgi`."""
    return [
        sys.executable, "-m", "uvicorn", "inventory_site.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Run the web servers (and a Celery worker + beat when REDIS_URL is set)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="HTTP port.")
        parser.add_argument(
            "--ws-port", type=int, default=None, help="Websocket port (default: --port + 1)."
        )
        parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes.")
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.STOCKROOM_HTTP_THREADS,
            help="Requests each HTTP worker serves at once (STOCKROOM_HTTP_THREADS).",
        )
        parser.add_argument("--ws-workers", type=int, default=1, help="Websocket worker processes.")
        parser.add_argument(
            "--no-background", action="store_true", help="Start no worker or scheduler."
        )

    def handle(self, *args, host, port, ws_port, workers, threads, ws_workers, no_background, **o):
        if settings.STOCKROOM_EMBEDDED:
            if workers > 1:
                self.stderr.write("Without Redis there is one server process; --workers ignored.")
            self.stdout.write(
                "No REDIS_URL: one process serves HTTP and websockets, and runs the periodic "
                "jobs and event publishing."
            )
            self.stdout.write(f"Stockroom on http://{host}:{port}/")
            asyncio.run(self._serve_embedded(host, port, background=not no_background))
            return
        ws_port = ws_port or port + 1
        env = dict(os.environ)
        env.setdefault("STOCKROOM_WEBSOCKET_PORT", str(ws_port))
        commands = {
            "http": http_server_command(host=host, port=port, workers=workers, threads=threads),
            "websockets": websocket_server_command(host=host, port=ws_port, workers=ws_workers),
        }
        if not no_background:
            celery = [sys.executable, "-m", "celery", "-A", "inventory_site"]
            commands["worker"] = [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"]
            commands["beat"] = [*celery, "beat", "--loglevel", "INFO"]
        children = {name: subprocess.Popen(argv, env=env) for name, argv in commands.items()}
        self.stdout.write(
            f"Stockroom on http://{host}:{port}/  (websockets on port {ws_port}; "
            f"{', '.join(children)})"
        )
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        try:
            exited = self._watch(children, stopping)
        finally:
            _stop_all(children.values())
        if exited is not None:
            raise CommandError(f"The {exited} process exited; stopped the others.")

    @staticmethod
    def _watch(children: dict[str, subprocess.Popen], stopping: list[int]) -> str | None:
        """Wait until a signal asks us to stop (None) or a child exits (its name)."""
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.5)
        return None

    async def _serve_embedded(self, host: str, port: int, *, background: bool) -> None:
        # One process: the in-memory channel layer and the scheduler live on the server's
        # event loop, so events published by the jobs reach the websockets.
        config = uvicorn.Config(
            "inventory_site.asgi:application", host=host, port=port, lifespan="off"
        )
        scheduler = asyncio.create_task(embedded_scheduler.run_async()) if background else None
        try:
            await uvicorn.Server(config).serve()
        finally:
            if scheduler is not None:
                scheduler.cancel()


def _stop_all(children) -> None:
    children = list(children)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
