"""Concurrent calls that touch the same thing, run together (flat combining, as group commit
does for a write-ahead log).

A caller whose key has nothing running goes at once, alone: no wait is ever added to an
uncontended call. Callers that arrive while a batch of their key runs queue up; when that batch
ends, the first of them runs the whole queue (up to `max_batch`) in one call and hands each
caller its own result, and so on. Under contention each call of `run_batch` serves every caller
that arrived while the previous one ran: for a hot stock row, one locked update and one commit
for many orders instead of one each.

Waiting callers block their thread (the web server's threads are the callers) and do nothing
else meanwhile: they hold no database connection and no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")  # a request
T = TypeVar("T")  # its result


@dataclass(eq=False)
class _Slot(Generic[R, T]):
    request: R
    done: threading.Event = field(default_factory=threading.Event)
    result: T | None = None
    error: BaseException | None = None
    batch: list[_Slot[R, T]] | None = None  # set when this caller is to run the next batch

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


@dataclass
class _Queue(Generic[R, T]):
    running: bool = False
    waiting: list[_Slot[R, T]] = field(default_factory=list)


class Combiner(Generic[R, T]):
    """`submit(key, request)` returns `run_batch(key, requests)[i]` for its own request, the
    batch holding every request of the same key that queued while the previous batch ran.
    `run_batch` returns one result per request, in order; if it raises, every caller of that
    batch gets the exception."""

    def __init__(
        self, run_batch: Callable[[Hashable, Sequence[R]], Sequence[T]], *, max_batch: int = 64
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._queues: dict[Hashable, _Queue[R, T]] = {}
        self._lock = threading.Lock()

    def submit(self, key: Hashable, request: R) -> T:
        slot: _Slot[R, T] = _Slot(request)
        with self._lock:
            queue = self._queues.setdefault(key, _Queue())
            if queue.running:
                queue.waiting.append(slot)
                batch = None
            else:
                queue.running = True
                batch = [slot]
        if batch is None:
            slot.done.wait()
            if slot.batch is None:
                return slot.outcome()  # served by another caller's batch
            batch = slot.batch  # this caller runs the next batch
        try:
            self._run(key, batch)
        finally:
            self._hand_over(key)
        return slot.outcome()

    def _run(self, key: Hashable, batch: list[_Slot[R, T]]) -> None:
        try:
            results = self._run_batch(key, [slot.request for slot in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except BaseException as error:
            for slot in batch:
                slot.error = error
        else:
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        for slot in batch[1:]:
            slot.batch = None
            slot.done.set()

    def _hand_over(self, key: Hashable) -> None:
        """The queue of `key` goes to its first caller, who runs it as the next batch; with
        nobody waiting, the key is idle again."""
        with self._lock:
            queue = self._queues[key]
            if not queue.waiting:
                del self._queues[key]
                return
            batch = queue.waiting[: self.max_batch]
            del queue.waiting[: self.max_batch]
        batch[0].batch = batch
        batch[0].done.set()
