"""Request budgets: per credential across processes, per address for requests without valid
credentials, an honest Retry-After, and the RateLimit-* headers."""

from __future__ import annotations

import threading

import pytest
from rest_framework.test import APIClient

from apps.api import throttling
from apps.apikeys.services import hash_key
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """The throttle's wall clock, moved by hand (starting at the top of a minute)."""
    now = [600 * 60.0]
    monkeypatch.setattr(throttling.time, "time", lambda: now[0])
    return now


def test_a_budget_per_key_with_its_figures_in_the_headers(settings, merchant):
    settings.STOCKROOM_API_RATE_LIMIT = "3/min"
    first, second = client_for(merchant), client_for(merchant)
    remaining = []
    for _ in range(3):
        response = first.get("/api/v1/products/")
        assert response.status_code == 200
        assert response["RateLimit-Limit"] == "3"
        assert 1 <= int(response["RateLimit-Reset"]) <= 60
        remaining.append(int(response["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    response = first.get("/api/v1/products/")
    assert_problem(response, 429, "throttled")
    assert response["RateLimit-Remaining"] == "0"
    assert 1 <= int(response["Retry-After"]) <= 120
    assert second.get("/api/v1/products/").status_code == 200  # a budget per key


def test_waiting_the_retry_after_gets_through(settings, merchant, clock):
    """Refused requests do not count, and Retry-After is long enough (the budget slides)."""
    settings.STOCKROOM_API_RATE_LIMIT = "4/min"
    client = client_for(merchant)
    clock[0] += 50  # late in a minute
    for _ in range(4):
        assert client.get("/api/v1/products/").status_code == 200
    for _ in range(3):
        refused = client.get("/api/v1/products/")
        assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    clock[0] += wait - 1
    assert client.get("/api/v1/products/").status_code == 429  # a second early
    clock[0] += 1
    assert client.get("/api/v1/products/").status_code == 200


def test_the_budget_slides_the_previous_window_out_gradually(settings, merchant, clock):
    """6/min: 6 requests at the end of one minute leave almost no budget at the start of the
    next, and half of it halfway through (a sliding window, not a reset on the minute)."""
    settings.STOCKROOM_API_RATE_LIMIT = "6/min"
    client = client_for(merchant)
    clock[0] += 59  # the last second of a minute
    for _ in range(6):
        assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/products/").status_code == 429
    clock[0] += 2  # 1 s into the next minute: the 6 earlier requests weigh 59/60
    refused = client.get("/api/v1/products/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 59
    clock[0] += 29  # halfway: the previous minute weighs 6 x 0.5 = 3
    for _ in range(3):
        assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/products/").status_code == 429


def test_requests_without_a_valid_key_are_counted_by_address(settings, merchant):
    settings.STOCKROOM_API_ANONYMOUS_RATE_LIMIT = "4/min"
    anonymous = APIClient()
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer sr_not-a-real-key")
    assert_problem(anonymous.get("/api/v1/products/"), 401, "not_authenticated")
    assert_problem(anonymous.get("/api/v1/products/"), 401, "not_authenticated")
    assert_problem(wrong.get("/api/v1/products/"), 401, "authentication_failed")
    assert_problem(wrong.get("/api/v1/products/"), 401, "authentication_failed")
    throttled = wrong.get("/api/v1/products/")  # the same address: its budget is spent
    assert_problem(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) >= 1
    assert_problem(anonymous.get("/api/v1/products/"), 429, "throttled")
    # A valid key has a budget of its own.
    assert client_for(merchant).get("/api/v1/products/").status_code == 200


def test_keys_are_the_deployment_s_and_the_credential_s_everywhere(settings, merchant):
    """A budget's Redis keys carry the deployment prefix and the key's digest, not its
    database id (a recreated database reuses ids; two deployments may share a Redis)."""
    import redis

    client = client_for(merchant)
    assert client.get("/api/v1/products/").status_code == 200
    keys = [k.decode() for k in redis.Redis.from_url(settings.REDIS_URL).keys("*throttle*")]
    digest = hash_key(client.raw_key)
    assert keys
    assert all(k.startswith(f"{settings.STOCKROOM_REDIS_PREFIX}:throttle:") for k in keys)
    assert any(f"key:{digest[:24]}:" in k for k in keys)


def test_one_process_never_admits_more_than_the_limit():
    budgets = throttling.Budgets()
    allowed = sum(budgets.take("key:one-process", "50/min").allowed for _ in range(200))
    assert allowed == 50


def test_processes_sharing_a_budget_stay_within_their_local_share():
    """Two processes (two Budgets) spending one key from many threads at once: each admits
    locally at most LOCAL_SHARE of what was left at its last sync, so together they exceed
    the limit by at most that share each."""
    limit, processes = 200, [throttling.Budgets(), throttling.Budgets()]
    allowed: list[bool] = []
    lock = threading.Lock()

    def spend(budgets):
        for _ in range(100):
            decision = budgets.take("key:shared", f"{limit}/min")
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=spend, args=(p,)) for p in processes for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 800
    assert limit <= sum(allowed) <= limit * (1 + throttling.LOCAL_SHARE * len(processes))
