"""Routing decisions of the primary/replica router and its request middleware (no database
needed; the real streaming replica is exercised in tests/resilience/test_replica.py)."""

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from apps.inventory.models import StockLevel
from inventory_site import db_router
from inventory_site.db_router import (
    PIN_COOKIE,
    PrimaryReplicaRouter,
    ReplicaPinMiddleware,
    use_primary,
)

router = PrimaryReplicaRouter()


@pytest.fixture(autouse=True)
def _replica_answers(monkeypatch):
    monkeypatch.setattr(db_router, "replica_available", lambda: True)


def test_reads_fall_back_to_the_primary_while_the_replica_is_away(monkeypatch):
    monkeypatch.setattr(db_router, "replica_available", lambda: False)
    assert router.db_for_read(StockLevel) == "default"


def test_reads_go_to_the_replica_unless_pinned():
    assert router.db_for_read(StockLevel) == "replica"
    with use_primary():
        assert router.db_for_read(StockLevel) == "default"
    assert router.db_for_read(StockLevel) == "replica"


def test_writes_and_migrations_go_to_the_primary():
    assert router.db_for_write(StockLevel) == "default"
    assert router.allow_migrate("default", "inventory") is True
    assert router.allow_migrate("replica", "inventory") is False


def test_related_reads_of_a_primary_object_stay_on_the_primary():
    level = StockLevel(pk=1)
    level._state.db = "default"
    assert router.db_for_read(StockLevel, instance=level) == "default"


def run(request, status=200):
    seen = {}

    def view(req):
        seen["alias"] = router.db_for_read(StockLevel)
        return HttpResponse(status=status)

    response = ReplicaPinMiddleware(view)(request)
    return seen["alias"], response


def test_a_write_request_reads_from_the_primary_and_pins_its_client(monkeypatch, settings):
    monkeypatch.setattr(db_router, "replica_configured", lambda: True)
    settings.DATABASE_REPLICA_PIN_SECONDS = 7
    factory = RequestFactory()

    alias, response = run(factory.get("/api/v1/stock/"))
    assert alias == "replica"
    assert PIN_COOKIE not in response.cookies

    alias, response = run(factory.post("/api/v1/reservations/"), status=201)
    assert alias == "default"
    cookie = response.cookies[PIN_COOKIE]
    assert cookie["max-age"] == 7
    assert cookie["httponly"] is True

    pinned = factory.get("/api/v1/stock/")
    pinned.COOKIES[PIN_COOKIE] = "1"
    assert run(pinned)[0] == "default"
    assert run(factory.get("/x", HTTP_X_READ_FROM_PRIMARY="1"))[0] == "default"

    _, refused = run(factory.post("/api/v1/reservations/"), status=409)
    assert PIN_COOKIE not in refused.cookies  # nothing was written


def test_no_pin_cookie_without_a_replica(monkeypatch):
    monkeypatch.setattr(db_router, "replica_configured", lambda: False)
    _, response = run(RequestFactory().post("/x"), status=201)
    assert PIN_COOKIE not in response.cookies


def test_the_replica_is_checked_again_after_the_interval(settings, monkeypatch):
    settings.DATABASE_REPLICA_RECHECK_SECONDS = 0.2
    health = db_router._ReplicaHealth()
    answers = iter([False, True])
    monkeypatch.setattr(health, "_check", lambda: next(answers))
    assert health() is False
    assert health() is False  # within the interval: the last answer stands, no new check
    time.sleep(0.25)
    assert health() is True
