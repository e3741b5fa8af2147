"""PostgreSQL stops and starts again under a running server: availability keeps answering from
the cache (stale, with its age and a Warning), POS and supplier events are accepted (202) into
the Redis stream and applied exactly once, in order, by the worker once PostgreSQL is back;
reservations and other writes answer 503 with Retry-After meanwhile. Private PostgreSQL,
Redis, web server and Celery worker (with beat) on loopback."""

import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.resilience.servers import ROOT, Process, django_env, manage, wait_for, web_server

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]


def test_reads_and_feed_events_carry_on_while_postgres_is_down(
    private_postgres, private_redis, workdir, processes
):
    env = django_env(
        DATABASE_URL=private_postgres.url(),
        REDIS_URL=private_redis.url,
        DATABASE_POOL_TIMEOUT="2",  # a request without a connection gives up after 2 s
        STOCKROOM_DB_OUTAGE_BACKOFF_SECONDS="1",
    )
    migrated = manage("migrate", "--noinput", "-v0", env=env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.resilience.probes", "seed", "--on-hand", "100"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    created = manage("create_api_key", "--merchant", "probe", "--name", "pos", env=env)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip()}"}
    web, port = web_server(env, workdir)
    processes.append(web)
    worker = Process(
        [sys.executable, "-m", "celery", "-A", "inventory_site", "worker", "-B", "-c", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
        env, workdir / "worker.log",
    )  # fmt: skip
    processes.append(worker)
    api = f"http://127.0.0.1:{port}/api/v1"

    def post(path, body, key=None):
        headers = {**auth, "Idempotency-Key": key or str(uuid.uuid4())}
        return requests.post(f"{api}/{path}", json=body, headers=headers, timeout=30)

    def events(*items):
        return {"events": [
            {"source": "pos-7", "event_id": event_id, "type": kind, "sku": "PROBE-1",
             "location": "store", "quantity": quantity, "sequence": sequence}
            for event_id, kind, quantity, sequence in items
        ]}  # fmt: skip

    assert post("locations", {"code": "store", "name": "Store"}).status_code == 201
    before = requests.get(f"{api}/availability/PROBE-1", params={"quantity": 5}, headers=auth)
    assert (before.json()["available"], before.json()["stale"]) == (100, False)
    reserved = post("reservations", {"lines": [{"sku": "PROBE-1", "location": "main",
                                                "quantity": 10}]})  # fmt: skip
    assert reserved.status_code == 201, reserved.text  # figures change: the cached ones go

    # A clean stop: this private cluster commits asynchronously (fast, not crash-safe), and the
    # outage, not crash recovery, is what is tested here (test_postgres_restart crashes it).
    private_postgres.stop("fast")
    time.sleep(1)

    stale = requests.get(f"{api}/availability/PROBE-1", params={"quantity": 5}, headers=auth)
    assert stale.status_code == 200, stale.text
    assert stale.headers["Warning"].startswith("110 stockroom")
    body = stale.json()
    assert (body["stale"], body["available"], body["can_serve"]) == (True, 100, True)
    assert body["age_seconds"] >= 1
    started = time.monotonic()
    again = requests.get(f"{api}/availability/PROBE-1", headers=auth, timeout=30)
    assert again.json()["stale"] is True
    assert time.monotonic() - started < 1.5  # the outage is known: no wait for a connection

    # Events of the store, received in this order: a receipt, then a sale of those units (it
    # would be refused before the receipt), then the receipt delivered again.
    receipt = post("events", events(("r-1", "receipt", 3, 1)), key="feed-1")
    sale = post("events", events(("s-1", "sale", 3, 2)))
    repeat = post("events", events(("r-1", "receipt", 3, 1)))
    for accepted in (receipt, sale, repeat):
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["queued"] == 1
    # A reservation is never promised without the database; nor is any other write taken.
    for refused in (
        post("reservations", {"lines": [{"sku": "PROBE-1", "location": "main", "quantity": 1}]}),
        post("stock/receipts", {"sku": "PROBE-1", "location": "main", "quantity": 1}),
    ):
        assert refused.status_code == 503, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "database_unavailable"
        assert int(refused.headers["Retry-After"]) > 0

    private_postgres.start()

    def outcomes(response) -> list[str] | None:
        batch = response.json()["batch_id"]
        found = requests.get(f"{api}/events/queued/{batch}/", headers=auth, timeout=10)
        if found.status_code != 200 or found.json()["status"] != "applied":
            return None
        return [result["outcome"] for result in found.json()["results"]]

    wait_for(
        lambda: outcomes(repeat) is not None,
        120,
        "the worker to apply the queued events",
        interval=1,
    )
    assert [outcomes(r) for r in (receipt, sale, repeat)] == [
        ["applied"], ["applied"], ["duplicate"],
    ]  # fmt: skip
    store = requests.get(f"{api}/stock/PROBE-1/store", headers=auth, timeout=10).json()
    assert store["on_hand"] == 0
    for reference in ("pos-7:r-1", "pos-7:s-1"):  # exactly once each
        rows = requests.get(f"{api}/ledger", params={"reference": reference}, headers=auth)
        assert len(rows.json()["results"]) == 1, rows.text
    current = requests.get(f"{api}/availability/PROBE-1", headers=auth, timeout=10).json()
    assert (current["stale"], current["available"]) == (False, 90)
    replay = post("events", events(("r-1", "receipt", 3, 1)), key="feed-1")
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (202, "true")
    assert replay.json()["batch_id"] == receipt.json()["batch_id"]
    verified = manage("inventory_verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "No drift" in verified.stdout
