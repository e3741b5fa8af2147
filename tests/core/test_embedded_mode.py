"""The embedded defaults end to end: `serve` on SQLite without Redis expires reservations,
raises alerts and streams live events by itself."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from websockets.sync.client import connect

from tests.realstack import ROOT, free_port, wait_for

pytestmark = pytest.mark.timeout(120)

SETUP = """
from datetime import timedelta
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from apps.inventory import services
from apps.inventory.models import Reservation
from tests import factories

merchant = factories.merchant(code="embedded")
owner = factories.user(merchant)
product, location = factories.product(merchant, sku="EMB-1"), factories.location(merchant)
factories.stock(product, location, 10, low_stock_threshold=3)
factories.stock(factories.product(merchant, sku="EMB-LOW"), location, 2, low_stock_threshold=3)
services.reservation_create(
    merchant=merchant, actor=None, idempotency_key="r1", ttl_seconds=60,
    lines=[services.ReservationLineRequest(product=product, location=location, quantity=8)],
)
Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
session = SessionStore()
session[SESSION_KEY] = str(owner.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
session.save()
print(session.session_key)
"""

RECEIVE = """
from apps.catalog.models import Product
from apps.inventory import services
product = Product.objects.get(sku="EMB-1")
services.stock_receive(
    merchant=product.merchant, actor=None, idempotency_key="more",
    lines=[services.StockLine(product=product, location=product.merchant.locations.get(), quantity=5)],
)
"""


def test_serve_without_redis_runs_the_background_work_and_streams(tmp_path):
    database = tmp_path / "embedded.sqlite3"
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
            text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    session_key = manage("shell", "-c", SETUP).strip().splitlines()[-1]

    def query(sql: str):
        with sqlite3.connect(database) as db:
            return db.execute(sql).fetchone()[0]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Expired within the first round of jobs, released through the service.
        wait_for(lambda: query("SELECT status FROM inventory_reservation") == "expired", 30)
        assert query("SELECT sum(reserved) FROM inventory_stocklevel") == 0
        # Events published, and the alerts evaluated from them: EMB-LOW is low; EMB-1 is not
        # once the expiry gave its 8 units back.
        unpublished = "SELECT count(*) FROM inventory_outboxevent WHERE published_at IS NULL"
        wait_for(lambda: query(unpublished) == 0, 20)
        open_alerts = "SELECT group_concat(message) FROM alerts_alert WHERE status = 'triggered'"
        wait_for(lambda: query(open_alerts), 20)
        assert query(open_alerts).startswith("EMB-LOW at ")

        url = f"ws://127.0.0.1:{port}/ws/stock/?merchant=embedded"
        headers = {"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"}
        with connect(url, additional_headers=headers, open_timeout=10) as websocket:
            assert json.loads(websocket.recv(timeout=10))["type"] == "subscribed"
            manage("shell", "-c", RECEIVE)  # another process: published by the next sweep
            event = json.loads(websocket.recv(timeout=20))
            assert (event["type"], event["data"]["on_hand"]) == ("stock.changed", 15)
    finally:
        server.terminate()
        server.wait(timeout=15)


BUCKETS = """
from apps.inventory import services
from apps.core.errors import InvalidRequest
from tests import factories

merchant = factories.merchant(code="embedded-buckets")
product, location = factories.product(merchant), factories.location(merchant)
factories.stock(product, location, 10)
try:
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None,
        idempotency_key="buckets", bucket_count=2,
    )
except InvalidRequest as error:
    print("refused:", error.details["field"], error.message)
services.reservation_create(
    merchant=merchant, actor=None, idempotency_key="r1",
    lines=[services.ReservationLineRequest(product=product, location=location, quantity=3)],
)
services.stock_ship(
    merchant=merchant, actor=None, idempotency_key="s1",
    lines=[services.StockLine(product=product, location=location, quantity=7)],
)
"""


def test_stock_buckets_are_refused_on_sqlite_and_stock_still_moves(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings.local",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip

    assert manage("migrate", "--noinput", "-v0").returncode == 0
    done = manage("shell", "-c", BUCKETS)
    assert done.returncode == 0, done.stderr
    assert "refused: bucket_count Stock buckets need PostgreSQL" in done.stdout
    verify = manage("inventory_verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "No drift" in verify.stdout


LATE_FEED = """
import time
from django.utils import timezone
from apps.feeds.services.events import InboundEvent, feed_events_apply
from apps.inventory import services
from apps.inventory.models import StockLevel
from tests import factories

merchant = factories.merchant(code="embedded-feed")
product, location = factories.product(merchant), factories.location(merchant)
factories.stock(product, location, 25)
counted_at = timezone.now()
time.sleep(0.01)
services.stock_ship(
    merchant=merchant, actor=None, idempotency_key="online-sale",
    lines=[services.StockLine(product=product, location=location, quantity=5)],
)
def event(event_id, type_, quantity, at):
    return InboundEvent(source="pos-1", event_id=event_id, type=type_, product=product,
                        location=location, quantity=quantity, occurred_at=at)
outcomes = feed_events_apply(merchant=merchant, events=[event("c1", "count", 25, counted_at)])
print("count:", outcomes[0].outcome, StockLevel.objects.get(product=product).on_hand)
sold_at = timezone.now()
time.sleep(0.01)
services.stock_count(
    merchant=merchant, actor=None, idempotency_key="online-count",
    lines=[services.StockLine(product=product, location=location, quantity=18)],
)
outcomes = feed_events_apply(merchant=merchant, events=[event("s0", "sale", 2, sold_at)])
print("earlier sale:", outcomes[0].outcome, StockLevel.objects.get(product=product).on_hand)
"""


def test_late_counts_and_sales_on_sqlite(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings.local",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip

    assert manage("migrate", "--noinput", "-v0").returncode == 0
    done = manage("shell", "-c", LATE_FEED)
    assert done.returncode == 0, done.stderr
    assert "count: applied 20" in done.stdout  # counted 25, then 5 sold online
    assert "earlier sale: stale 18" in done.stdout  # the online count had seen it already
    verify = manage("inventory_verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
