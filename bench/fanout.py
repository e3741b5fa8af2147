"""Fan-out driver (a separate process): `clients` websocket subscribers on `ws/stock/` (the
websocket server's port) while a writer receives one unit through the HTTP API `rate` times a
second. Reads one job (JSON) on stdin and prints, as JSON, every change-to-client latency: a
client's receive time minus the event's `occurred_at` (the write's start, stamped by the server
before its commit, on the same clock), so the figure includes the write itself, the
after-commit dispatch, the Celery task, the channel layer and the websocket send."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import websockets

WRITER_CONNECTIONS = 4


class Connection:
    """A minimal HTTP/1.1 keep-alive client (Content-Length or chunked responses)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Authorization: Bearer {self.token}",
            "Accept: application/json",
        ]
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            return await self._response()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.writer = None
            raise

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            body = b""
        if headers.get("connection") == "close":
            self.writer.close()
            self.writer = None
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def subscriber(
    job: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event, out: dict[str, Any]
) -> None:
    url = f"ws://{job['host']}:{job['ws_port']}/ws/stock/?key={job['token']}"
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
