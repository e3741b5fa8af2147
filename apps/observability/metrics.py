"""Prometheus metrics, on a registry of our own.

Business figures are computed from the database at scrape time (computed, not assumed): what a
counter in one process could never know (several web processes, workers on other machines)
the tables know. Request latency is measured per process; when `PROMETHEUS_MULTIPROC_DIR` is
set (several server worker processes on one host) the per-process files are aggregated.
Counts of things the database does not keep (refused reservations, failed webhook attempts)
live in Redis so every process and machine adds to one number; they fail soft.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

from django.db import DatabaseError, connections
from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from apps.core.cache import safe_get, safe_incr
from apps.inventory.ledger_replay import oversold_units
from apps.inventory.models import OutboxEvent, Reservation, ReservationLine
from apps.observability.models import LedgerVerification

REGISTRY = CollectorRegistry()

REQUEST_LATENCY = Histogram(
    "stockroom_http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it, by route.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

SHARED_COUNTERS = {
    "reservations_refused": "Reservation requests refused for lack of stock.",
    "webhook_failures": "Webhook delivery attempts that failed.",
}
_SHARED_KEY = "metrics:{}"  # under the cache's deployment prefix


def count(name: str, by: int = 1) -> None:
    """Add to a shared counter (one of SHARED_COUNTERS). Never raises when Redis is down."""
    if name not in SHARED_COUNTERS:
        raise KeyError(f"Unknown shared counter {name!r}; add it to SHARED_COUNTERS.")
    safe_incr(_SHARED_KEY.format(name), by)


class SharedCounterCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        for name, documentation in SHARED_COUNTERS.items():
            value = safe_get(_SHARED_KEY.format(name))
            if value is None:
                continue  # unreachable cache or never counted: no sample rather than a false 0
            family = CounterMetricFamily(f"stockroom_{name}", documentation)
            family.add_metric([], float(value))
            yield family


class DatabaseCollector(Collector):
    """Reservation, oversell, outbox and ledger-drift figures read from the tables.

    Results are reused for `cache_seconds` so several scrapers do not multiply the queries."""

    using = "default"  # oversold_units() reads the primary too: exact figures, not lagging ones

    def __init__(self, cache_seconds: float = 5.0) -> None:
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.cache_seconds:
                self._cached = (now, self._compute())
            return iter(self._cached[1])

    def _compute(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "stockroom_metrics_database_up", "1 when the database answered the metric queries."
        )
        try:
            families = list(self._figures())
        except DatabaseError:
            connections[self.using].close_if_unusable_or_obsolete()
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [*families, up]

    def _figures(self) -> Iterator[Metric]:
        now = timezone.now()
        reservations = Reservation.objects.using(self.using)
        by_status = dict(
            reservations.order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        created = CounterMetricFamily(
            "stockroom_reservations_created", "Reservations ever created (rows in the table)."
        )
        created.add_metric([], float(sum(by_status.values())))
        yield created
        expired = CounterMetricFamily(
            "stockroom_reservations_expired", "Reservations released by their TTL."
        )
        expired.add_metric([], float(by_status.get(Reservation.Status.EXPIRED, 0)))
        yield expired
        statuses = GaugeMetricFamily(
            "stockroom_reservations", "Reservations by status.", labels=["status"]
        )
        for status in Reservation.Status.values:
            statuses.add_metric([status], float(by_status.get(status, 0)))
        yield statuses

        active = reservations.filter(status=Reservation.Status.ACTIVE)
        held = (
            ReservationLine.objects.using(self.using)
            .filter(reservation__status=Reservation.Status.ACTIVE)
            .aggregate(units=Sum("quantity"))["units"]
        )
        backlog = GaugeMetricFamily(
            "stockroom_reservations_active_units", "Units held by active reservations."
        )
        backlog.add_metric([], float(held or 0))
        yield backlog
        overdue = GaugeMetricFamily(
            "stockroom_reservations_overdue",
            "Active reservations past their expiry, waiting for the expiry job.",
        )
        overdue.add_metric([], float(active.filter(expires_at__lt=now).count()))
        yield overdue

        oversold = GaugeMetricFamily(
            "stockroom_oversold_units", "Units reserved beyond on hand, over all levels. Must be 0."
        )
        oversold.add_metric([], float(oversold_units()))
        yield oversold

        pending = OutboxEvent.objects.using(self.using).filter(published_at__isnull=True)
        outbox = pending.aggregate(n=Count("pk"), oldest=Min("created_at"))
        pending_family = GaugeMetricFamily(
            "stockroom_outbox_pending_events", "Events written and not yet published."
        )
        pending_family.add_metric([], float(outbox["n"]))
        yield pending_family
        lag = GaugeMetricFamily(
            "stockroom_outbox_lag_seconds", "Age of the oldest unpublished event (0 when none)."
        )
        lag.add_metric([], (now - outbox["oldest"]).total_seconds() if outbox["oldest"] else 0.0)
        yield lag

        last = LedgerVerification.objects.using(self.using).first()
        when = GaugeMetricFamily(
            "stockroom_ledger_verification_timestamp_seconds",
            "When the last ledger verification finished (0: never).",
        )
        when.add_metric([], last.finished_at.timestamp() if last else 0.0)
        yield when
        if last is not None:
            drift = GaugeMetricFamily(
                "stockroom_ledger_drift_levels",
                "Stock levels whose balances disagreed with the ledger at the last verification.",
            )
            drift.add_metric([], float(last.drifted_levels))
            yield drift


DATABASE_COLLECTOR = DatabaseCollector()
SHARED_COLLECTOR = SharedCounterCollector()
REGISTRY.register(DATABASE_COLLECTOR)
REGISTRY.register(SHARED_COLLECTOR)


def exposition() -> bytes:
    """The text exposition of every metric, aggregated over processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(DATABASE_COLLECTOR)
        registry.register(SHARED_COLLECTOR)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
