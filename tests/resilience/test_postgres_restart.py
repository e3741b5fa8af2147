"""PostgreSQL restarts under load: requests in flight fail cleanly (503 problem+json with
Retry-After), nothing is half-written, the service recovers by itself, no drift."""

import json
import re
import subprocess
import sys
import time

import pytest
import requests
from django.urls import reverse

from tests.resilience.servers import ROOT, django_env, manage, wait_for, web_server

pytestmark = [pytest.mark.servers, pytest.mark.timeout(240)]

# Any well-formed session key makes the admin look the session up in the database.
SESSION = {"sessionid": "x" * 32}
PASSWORD = "a-long-test-password-1"
RECEIVE = reverse("admin:inventory_stocklevel_receive")
KEY = r'name="idempotency_key" value="([^"]+)"'
RECEIPTS_SCRIPT = (
    "from apps.inventory.models import LedgerEntry; "
    "print(LedgerEntry.objects.filter(reference='PO-restart').count())"
)


def admin_session(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10)
    logged_in = session.post(
        f"{base}/admin/login/",
        data={"username": "ops", "password": PASSWORD, "next": "/admin/",
              "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert logged_in.status_code == 302, logged_in.text[:500]
    return session


def test_postgres_restart_during_load(private_postgres, private_redis, workdir, processes):
    env = django_env(
        DATABASE_URL=private_postgres.url(),
        REDIS_URL=private_redis.url,
        DATABASE_POOL_TIMEOUT="3",  # fail a request after 3 s without a connection
    )
    stop_file = workdir / "stop-load"
    migrated = manage("migrate", "--noinput", "-v0", env=env, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.resilience.probes", "seed", "--on-hand", "100000"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    admin_user = manage(
        "createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert admin_user.returncode == 0, admin_user.stderr
    web, port = web_server(env, workdir)
    processes.append(web)
    base = f"http://127.0.0.1:{port}"
    assert (
        requests.get(
            f"{base}/admin/", cookies=SESSION, allow_redirects=False, timeout=5
        ).status_code
        == 302
    )

    person = admin_session(base)
    form = person.get(f"{base}{RECEIVE}", timeout=10)
    assert form.status_code == 200
    receipt = {
        "location": ids["location"], "sku": "PROBE-1", "quantity": 7, "reference": "PO-restart",
        "note": "", "idempotency_key": re.search(KEY, form.text).group(1),
        "csrfmiddlewaretoken": person.cookies["csrftoken"],
    }  # fmt: skip

    load = subprocess.Popen(
        [sys.executable, "-m", "tests.resilience.probes", "load", "--seconds", "120", "--threads", "3",
         "--until-file", str(stop_file)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        private_postgres.stop("immediate")  # a crash: no shutdown checkpoint, clients cut off

        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        down = requests.get(f"{base}/admin/", cookies=SESSION, allow_redirects=False, timeout=30)
        assert down.status_code == 503
        assert down.headers["Content-Type"] == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        assert down.json()["code"] == "database_unavailable"
        assert down.json()["request_id"] == down.headers["X-Request-ID"]
        # A person submits a stock receipt while the database is away: a clean 503.
        refused = person.post(f"{base}{RECEIVE}", data=receipt, allow_redirects=False, timeout=30)
        assert refused.status_code == 503
        assert refused.headers["Content-Type"] == "application/problem+json"
        scraped = requests.get(f"{base}/metrics", timeout=30)  # loopback: no token needed
        assert scraped.status_code == 200
        assert "stockroom_metrics_database_up 0.0" in scraped.text
        not_ready = requests.get(f"{base}/readyz", timeout=30)
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["database"]["ok"] is False

        time.sleep(2)
        private_postgres.start()  # crash recovery, same port
        wait_for(
            lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200,
            60,
            "the web server to recover by itself",
            interval=0.5,
        )
        back = requests.get(f"{base}/admin/", cookies=SESSION, allow_redirects=False, timeout=10)
        assert back.status_code == 302
        # The same submission again (same idempotency key): applied now, and only once.
        for _ in range(2):
            sent = person.post(f"{base}{RECEIVE}", data=receipt, allow_redirects=False, timeout=30)
            assert sent.status_code == 302
        # The load's own connection pool reconnects by itself too (with backoff).
        wait_for(
            lambda: stop_file.with_suffix(".recovered").exists(),
            60,
            "the load to succeed again after the restart",
        )
        stop_file.touch()
        out, err = load.communicate(timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(timeout=10)
    assert load.returncode == 0, err[-3000:]
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["database_errors"] > 0, counts  # the restart really hit requests in flight
    assert counts["ok_after_errors"] > 0, counts  # and work went on afterwards by itself
    receipts = manage("shell", "-c", RECEIPTS_SCRIPT, env=env)
    assert receipts.returncode == 0, receipts.stderr
    assert receipts.stdout.split()[-1] == "1"  # one ledger row for the receipt, not two
    verified = manage("inventory_verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "No drift" in verified.stdout
