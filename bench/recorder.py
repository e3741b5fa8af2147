"""What every driver (HTTP load generator, raw psycopg, in-process service) records, in one
shape: status counts, latencies per outcome and the completion times of successes."""

from __future__ import annotations

import time
from typing import Any


class Recorder:
    def __init__(self, seconds: float, max_requests: int | None) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + seconds
        self.max_requests = max_requests or 10**12
        self.sent = 0
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.latencies: dict[str, list[float]] = {}
        self.success_times: list[float] = []

    def take(self) -> bool:
        """Claim the right to send one more request (False once time or count is spent)."""
        if time.perf_counter() >= self.deadline or self.sent >= self.max_requests:
            return False
        self.sent += 1
        return True

    def record(self, kind: str, status: int, began: float) -> None:
        done = time.perf_counter()
        key = f"{kind}:{status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.latencies.setdefault(key, []).append((done - began) * 1000)
        if status in (200, 201):
            self.success_times.append(done - self.start)

    def result(self) -> dict[str, Any]:
        return {
            "elapsed": time.perf_counter() - self.start,
            "sent": self.sent,
            "errors": self.errors,
            "statuses": self.statuses,
            "latencies_ms": self.latencies,
            "success_times": sorted(self.success_times),
        }
