"""The load generator: a separate process driving the API over loopback HTTP/1.1 keep-alive.

Reads one job (JSON) on stdin, runs `concurrency` clients until `seconds` pass or
`max_requests` have been sent, whichever comes first, and prints one JSON result on stdout:
status counts, latencies and the completion times of successful requests. It imports nothing
from the product, so its cost is only the client's.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from typing import Any

from bench.recorder import Recorder


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


def reserve_request(job: dict[str, Any], rng: random.Random) -> tuple[str, str, bytes, dict]:
    line: dict[str, Any] = {
        "sku": rng.choice(job["skus"]),
        "quantity": rng.randint(job.get("quantity_min", 1), job.get("quantity_max", 1)),
    }
    if job.get("locations"):
        line["location"] = rng.choice(job["locations"])
    body = json.dumps({"lines": [line], "ttl_seconds": job.get("ttl_seconds", 900)}).encode()
    return "POST", "/api/v1/reservations/", body, {"Idempotency-Key": str(uuid.uuid4())}


def availability_request(job: dict[str, Any], rng: random.Random) -> tuple[str, str, bytes, dict]:
    return "GET", f"/api/v1/availability/{rng.choice(job['read_skus'])}/", b"", {}


def next_request(
    job: dict[str, Any], rng: random.Random
) -> tuple[str, tuple[str, str, bytes, dict]]:
    kind = job["kind"]
    if kind == "mixed":
        kind = "availability" if rng.random() < job.get("read_share", 0.9) else "reserve"
    if kind == "reserve":
        return "write", reserve_request(job, rng)
    return "read", availability_request(job, rng)


async def run(job: dict[str, Any]) -> dict[str, Any]:
    recorder = Recorder(float(job["seconds"]), job.get("max_requests"))

    async def client(index: int) -> None:
        rng = random.Random(job.get("seed", 0) * 1000 + index)
        connection = Connection(job["host"], job["port"], job["token"])
        try:
            while recorder.take():
                kind, (method, path, body, headers) = next_request(job, rng)
                began = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(
                        connection.request(method, path, body, headers), timeout=30
                    )
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    recorder.errors += 1
                    connection.close()
                    connection = Connection(job["host"], job["port"], job["token"])
                    continue
                recorder.record(kind, status, began)
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(int(job["concurrency"]))))
    return recorder.result()


def main() -> None:
    job = json.load(sys.stdin)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    result = asyncio.run(run(job))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
