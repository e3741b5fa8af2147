"""Fan-out driver (a separate process): `clients` websocket subscribers on `ws/stock/` while
a writer receives one unit through the API `rate` times a second. Reads one job (JSON) on
stdin and prints, as JSON, every change-to-client latency: a client's receive time minus the
event's `occurred_at` (the write's start, stamped by the server before its commit, on the same
clock), so the figure includes the write itself, the after-commit dispatch, the Celery task,
the channel layer and the websocket send."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import websockets

from bench.loadgen import Connection

WRITER_CONNECTIONS = 4


async def subscriber(
    job: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event, out: dict[str, Any]
) -> None:
    url = f"ws://{job['host']}:{job['port']}/ws/stock/?key={job['token']}"
    try:
        async with websockets.connect(url, open_timeout=30, max_queue=None) as socket:
            while True:
                message = json.loads(await socket.recv())
                if message.get("type") == "subscribed":
                    break
            out["connected"] += 1
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                event = json.loads(raw)
                if event.get("type") == "stock.changed":
                    occurred = datetime.fromisoformat(event["occurred_at"]).timestamp()
                    out["latencies_ms"].append((now - occurred) * 1000)
    except (OSError, websockets.WebSocketException) as error:
        out["failed"] += 1
        out["errors"].append(repr(error)[:200])


async def writer(job: dict[str, Any], stop: asyncio.Event, out: dict[str, Any]) -> None:
    """Starts a write every 1/rate seconds, whether or not the earlier ones were answered
    (over up to WRITER_CONNECTIONS keep-alive connections), so the change rate is the job's."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    connections = [
        Connection(job["host"], job["port"], job["token"]) for _ in range(WRITER_CONNECTIONS)
    ]
    for connection in connections:
        idle.put_nowait(connection)
    body = json.dumps(
        {"lines": [{"sku": job["sku"], "location": job["location"], "quantity": 1}]}
    ).encode()

    async def write() -> None:
        connection = await idle.get()
        try:
            status, _ = await connection.request(
                "POST", "/api/v1/stock/receipts/", body, {"Idempotency-Key": str(uuid.uuid4())}
            )
        finally:
            idle.put_nowait(connection)
        out["writes"][str(status)] = out["writes"].get(str(status), 0) + 1

    interval = 1 / job["rate"]
    deadline = time.perf_counter() + job["seconds"]
    next_at = time.perf_counter()
    writes = []
    while time.perf_counter() < deadline:
        writes.append(asyncio.create_task(write()))
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await asyncio.gather(*writes)
    for connection in connections:
        connection.close()
    await asyncio.sleep(2)  # let the last events arrive
    stop.set()


async def run(job: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "connected": 0, "failed": 0, "errors": [], "latencies_ms": [], "writes": {},
    }  # fmt: skip
    ready, stop = asyncio.Event(), asyncio.Event()
    tasks = []
    for _ in range(job["clients"]):
        tasks.append(asyncio.create_task(subscriber(job, ready, stop, out)))
        await asyncio.sleep(0.002)  # a connection storm is not what this measures
    deadline = time.perf_counter() + 60
    while out["connected"] + out["failed"] < job["clients"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    await writer(job, stop, out)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    out["errors"] = out["errors"][:5]
    return out


def main() -> None:
    job = json.load(sys.stdin)
    json.dump(asyncio.run(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
