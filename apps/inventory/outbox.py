"""The outbox: every event the product publishes is an `OutboxEvent` row, written in the
transaction that caused it (by the engine's statements, by the stock services, by alerts).
Once that transaction commits the `outbox_committed` hook (apps.core.hooks) fires, and the
events app publishes each row as its topic below says.

This is the one list of topics. A topic is streamed to the websocket groups of its merchant and
location (as the channel-layer message type `stream`), offered to partner webhooks
(`partners`), or both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.core import hooks
from apps.inventory.models import OutboxEvent

STOCK_STREAM = "stock.event"  # versioned per stock level; a resumed stream replays these
ALERT_STREAM = "alert.event"  # pushed live only: dashboards read open alerts when they load


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    stream: str | None  # the message type on the websocket groups; None: not streamed
    partners: bool  # partner webhook endpoints may subscribe to it


STOCK_CHANGED = "stock.changed"
# A reservation taken from, or given back to, a bucket of a bucketed level: the level row (and
# so its version) does not change; the payload names the level, the bucket and the change.
BUCKET_CHANGED = "stock.bucket_changed"
STOCK_LOW = "stock.low"
STOCK_REPLENISHED = "stock.replenished"
RESERVATION_EXPIRED = "reservation.expired"
# Units of a committed reservation came back (a return, or the order cancelled after commit).
RESERVATION_RETURNED = "reservation.returned"
# A reservation took substitutes for a short SKU (the lines say which, and for what).
RESERVATION_SUBSTITUTED = "reservation.substituted"
TRANSFER_RECEIVED = "transfer.received"
ALERT_TRIGGERED = "alert.triggered"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_RESOLVED = "alert.resolved"

TOPICS: dict[str, Topic] = {
    topic.name: topic
    for topic in (
        Topic(STOCK_CHANGED, "Stock changed", STOCK_STREAM, partners=True),
        Topic(BUCKET_CHANGED, "Stock changed in a bucket (bucketed levels)", STOCK_STREAM, True),
        Topic(STOCK_LOW, "Stock low (alert triggered)", None, partners=True),
        Topic(STOCK_REPLENISHED, "Stock replenished (alert resolved)", None, partners=True),
        Topic(RESERVATION_EXPIRED, "Reservation expired", STOCK_STREAM, partners=True),
        Topic(RESERVATION_RETURNED, "Reservation returned", STOCK_STREAM, partners=True),
        Topic(RESERVATION_SUBSTITUTED, "Reservation took substitutes", STOCK_STREAM, partners=True),
        Topic(TRANSFER_RECEIVED, "Transfer received", STOCK_STREAM, partners=True),
        Topic(ALERT_TRIGGERED, "Alert triggered", ALERT_STREAM, partners=False),
        Topic(ALERT_ACKNOWLEDGED, "Alert acknowledged", ALERT_STREAM, partners=False),
        Topic(ALERT_RESOLVED, "Alert resolved", ALERT_STREAM, partners=False),
    )
}


def topic_of(name: str) -> Topic:
    """The topic of an outbox row. One not declared above (a row written by a newer release
    during a deploy) is streamed as a stock event and offered to partners: no row is ever left
    unpublishable."""
    return TOPICS.get(name) or Topic(name, name, STOCK_STREAM, partners=True)


# Events about one stock level's figures (their payload names the level).
STOCK_TOPICS = (STOCK_CHANGED, BUCKET_CHANGED)
PARTNER_TOPICS = tuple(name for name, topic in TOPICS.items() if topic.partners)
RESUMABLE_TOPICS = tuple(name for name, topic in TOPICS.items() if topic.stream == STOCK_STREAM)


def outbox_append(
    *, merchant_id: int, topic: str, payload: dict[str, Any], at: datetime | None = None
) -> OutboxEvent:
    """Write one outbox row in the current transaction, for an event the engine's statements do
    not write themselves, and have it published once the transaction commits."""
    if topic not in TOPICS:
        raise ValueError(f"Unknown outbox topic {topic!r}: declare it in TOPICS.")
    event = OutboxEvent.objects.create(
        merchant_id=merchant_id, topic=topic, payload=payload, created_at=at or timezone.now()
    )
    hooks.outbox_committed.send_on_commit()
    return event
