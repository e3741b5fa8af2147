"""Concurrent calls of one key run together: the first at once and alone, the ones that
queue meanwhile as the next batch, each caller getting its own result."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.core.combining import Combiner


def test_an_uncontended_call_runs_alone_and_at_once():
    batches = []
    combiner = Combiner(lambda key, requests: batches.append(list(requests)) or requests)
    assert combiner.submit("a", 1) == 1
    assert combiner.submit("a", 2) == 2
    assert batches == [[1], [2]]


def test_calls_that_queue_while_a_batch_runs_go_together_and_get_their_own_results():
    batches: list[list[int]] = []
    started = threading.Event()

    def run(key, requests):
        batches.append(list(requests))
        if len(batches) == 1:
            started.set()
            time.sleep(0.3)  # the first batch is slow: the others queue meanwhile
        return [request * 10 for request in requests]

    combiner = Combiner(run)
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(combiner.submit, "hot", 0)
        started.wait(5)
        rest = [pool.submit(combiner.submit, "hot", n) for n in range(1, 9)]
        assert first.result() == 0
        assert [future.result() for future in rest] == [n * 10 for n in range(1, 9)]
    assert batches[0] == [0]
    assert sorted(batches[1]) == list(range(1, 9))  # one batch for everyone who queued
    assert len(batches) == 2


def test_keys_do_not_wait_for_each_other():
    release = threading.Event()

    def run(key, requests):
        if key == "slow":
            release.wait(5)
        return requests

    combiner = Combiner(run)
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(combiner.submit, "slow", 1)
        time.sleep(0.05)
        assert pool.submit(combiner.submit, "fast", 2).result(timeout=2) == 2
        release.set()
        assert slow.result() == 1


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs():
    calls = []
    started = threading.Event()

    def run(key, requests):
        calls.append(list(requests))
        if len(calls) == 1:
            started.set()
            time.sleep(0.2)
            raise RuntimeError("boom")
        return requests

    combiner = Combiner(run)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(combiner.submit, "k", 1)
        started.wait(5)
        second = pool.submit(combiner.submit, "k", 2)
        with pytest.raises(RuntimeError, match="boom"):
            first.result()
        assert second.result() == 2


def test_batches_are_bounded():
    started = threading.Event()
    sizes = []

    def run(key, requests):
        sizes.append(len(requests))
        if len(sizes) == 1:
            started.set()
            time.sleep(0.3)
        return requests

    combiner = Combiner(run, max_batch=3)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(combiner.submit, "k", 0)
        started.wait(5)
        others = [pool.submit(combiner.submit, "k", n) for n in range(1, 8)]
        assert [f.result() for f in [first, *others]] == list(range(8))
    assert sizes[0] == 1
    assert max(sizes) <= 3
    assert sum(sizes) == 8
