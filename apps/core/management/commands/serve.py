"""Start the product: the ASGI server, plus a Celery worker and beat when Redis is configured.

On embedded defaults (no REDIS_URL) there is no broker: this process runs the periodic jobs and
publishes events itself, from a task on the server's event loop (see
`apps.core.embedded_scheduler`); it then serves with a single worker process.
"""

import asyncio
import subprocess
import sys

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core import embedded_scheduler


class Command(BaseCommand):
    help = "Run the web server (and Celery worker + beat when REDIS_URL is set)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="ASGI worker processes.")
        parser.add_argument(
            "--no-background", action="store_true", help="Start no worker or scheduler."
        )

    def handle(self, *args, host, port, workers, no_background, **options):
        children: list[subprocess.Popen] = []
        embedded = not no_background and settings.STOCKROOM_EMBEDDED
        if not no_background and not settings.STOCKROOM_EMBEDDED:
            celery = [sys.executable, "-m", "celery", "-A", "inventory_site"]
            children.append(
                subprocess.Popen([*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"])
            )
            children.append(subprocess.Popen([*celery, "beat", "--loglevel", "INFO"]))
            self.stdout.write("Started a Celery worker and beat (Redis broker).")
        elif embedded:
            self.stdout.write(
                "No REDIS_URL: periodic jobs and event publishing run in this process."
            )
            if workers > 1:
                self.stderr.write("Without Redis there is one server process; --workers ignored.")
        self.stdout.write(
            f"Stockroom on http://{host}:{port}/  (admin: http://{host}:{port}/admin/)"
        )
        try:
            if embedded:
                # One process: the in-memory channel layer and the scheduler live on the
                # server's event loop, so events published by the jobs reach the websockets.
                asyncio.run(self._serve_embedded(host, port))
            else:
                uvicorn.run(
                    "inventory_site.asgi:application",
                    host=host,
                    port=port,
                    workers=workers,
                    lifespan="off",
                )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                child.wait(timeout=10)

    async def _serve_embedded(self, host: str, port: int) -> None:
        config = uvicorn.Config(
            "inventory_site.asgi:application", host=host, port=port, lifespan="off"
        )
        scheduler = asyncio.create_task(embedded_scheduler.run_async())
        try:
            await uvicorn.Server(config).serve()
        finally:
            scheduler.cancel()
