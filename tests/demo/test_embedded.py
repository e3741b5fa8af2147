"""`make run` on the embedded defaults (SQLite): the demo loaded once, with a ledger that
replays to the balances, shown on the landing page, and left alone by every later run."""

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.realstack import ROOT, free_port, wait_for

pytestmark = pytest.mark.timeout(180)


def test_make_run_on_sqlite_loads_the_demo_once_and_keeps_passwords(tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings.local",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def query(sql: str):
        with sqlite3.connect(database) as db:
            return db.execute(sql).fetchone()[0]

    manage("migrate", "--noinput", "-v0")
    started = time.monotonic()
    first = manage("seed_demo")
    # `make run` loads it before every start: it must stay quick (a few seconds when idle).
    assert time.monotonic() - started < 60
    assert "30 days of history" in first
    assert "viewer / stockroom-viewer" in first
    assert "No drift" in manage("inventory_verify")
    entries = query("SELECT count(*) FROM inventory_ledgerentry")
    assert query("SELECT count(DISTINCT date(created_at)) FROM inventory_ledgerentry") == 31
    assert query("SELECT count(DISTINCT date) FROM reports_stocksnapshot") == 30
    # The SQLite movement stamps a level's last receipt and sale, as PostgreSQL's does.
    assert query("SELECT max(last_sold_at) FROM inventory_stocklevel") == query(
        "SELECT max(created_at) FROM inventory_ledgerentry WHERE reason IN ('sale', 'commit')"
    )
    assert query("SELECT max(last_received_at) FROM inventory_stocklevel") == query(
        "SELECT max(created_at) FROM inventory_ledgerentry WHERE reason IN "
        "('receive', 'transfer_in')"
    )

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def landing() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return response.read().decode()

    def serving() -> bool:
        try:
            return bool(landing())
        except OSError:
            return False

    try:
        wait_for(serving, 60, interval=0.5)
        page = landing()
        assert "Running on the embedded defaults" in page
        assert "<code>admin</code></td><td><code>stockroom-admin</code>" in page
        manage(
            "shell", "-c",
            "from apps.accounts.models import User; u = User.objects.get(username='admin'); "
            "u.set_password('my-own-admin-password'); u.save()",
        )  # fmt: skip
        page = landing()
        assert "stockroom-admin" not in page
        assert "<code>viewer</code></td><td><code>stockroom-viewer</code>" in page
    finally:
        server.terminate()
        server.wait(timeout=15)
    again = manage("seed_demo")

    assert "already loaded" in again
    assert "admin: cannot sign in with the demo password" in again
    assert query("SELECT count(*) FROM inventory_ledgerentry") == entries
    check = "from apps.accounts.models import User; print(User.objects.get(username='admin')"
    assert "True" in manage("shell", "-c", f"{check}.check_password('my-own-admin-password'))")
