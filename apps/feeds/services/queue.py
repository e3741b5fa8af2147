"""Feed events accepted while PostgreSQL cannot be reached: a durable Redis stream, applied
exactly once, in the order received, when the database is back.

- `feed_batch_enqueue`: the POST events/ view puts a batch here (and answers 202 with its id)
  when the database is unreachable, and also whenever the stream still holds batches, so
  that no batch overtakes an earlier one: events of a stock level are applied in the order
  they were received.
- `feed_queue_drain` (the periodic `feeds.queue_drain`, every few seconds): one drainer at a
  time (a PostgreSQL advisory lock held for the run) applies the batches oldest first through
  `feed_events_apply`, records their outcomes (`QueuedFeedBatch`), stores the 202 answer for
  the request's Idempotency-Key, and only then deletes the entry. A drainer that dies midway
  leaves the entry; the next run applies it again, and every event it had applied is a
  `duplicate` (the feed's own ids): each event takes effect exactly once.

The stream lives under the deployment's prefix (`<STOCKROOM_REDIS_PREFIX>:feeds:queue`);
Redis must persist it (appendonly, as docker-compose.yml runs it) for it to outlive a Redis
restart. Reservations and every other write are never queued: they answer 503.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import User
from apps.apikeys.models import ApiKey
from apps.catalog.selectors import products_by_sku
from apps.core import idempotency
from apps.core.errors import DomainError, IdempotencyKeyReused
from apps.core.models import IdempotencyRecord
from apps.core.redis_pool import SharedConnectionPool
from apps.feeds.models import QueuedFeedBatch
from apps.feeds.services.events import InboundEvent, feed_events_apply
from apps.inventory.services.stock import Actor
from apps.locations.selectors import locations_by_code
from apps.merchants.models import Merchant

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0
OPERATION = "api:POST events"  # the idempotency operation of the feed's POST
OUTCOMES = ("applied", "duplicate", "stale", "rejected")


class QueueUnavailable(DomainError):
    """The stream cannot take the batch (Redis unreachable, or the queue is full)."""

    code = "feed_queue_unavailable"
    title = "Event queue unavailable"
    http_status = 503


def stream_key() -> str:
    return f"{settings.STOCKROOM_REDIS_PREFIX}:feeds:queue"


def _client() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    pool = SharedConnectionPool.from_url(
        settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    return redis.Redis(connection_pool=pool)


def feed_queue_holds_batches() -> bool:
    """True while the stream holds batches not yet applied (False when Redis cannot say)."""
    client = _client()
    if client is None:
        return False
    try:
        return client.xlen(stream_key()) > 0
    except redis.RedisError as error:
        logger.warning("feed queue unreadable: %s", error)
        return False


@dataclass(frozen=True)
class QueuedEvent:
    """A validated event as it waits in the stream, with its index in the request."""

    index: int
    source: str
    event_id: str
    type: str
    sku: str
    location: str
    quantity: int
    sequence: int | None = None
    occurred_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "source": self.source, "event_id": self.event_id,
            "type": self.type, "sku": self.sku, "location": self.location,
            "quantity": self.quantity, "sequence": self.sequence,
            "occurred_at": None if self.occurred_at is None else self.occurred_at.isoformat(),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueuedEvent:
        when = data.get("occurred_at")
        return cls(**{**data, "occurred_at": parse_datetime(when) if when else None})


def feed_batch_enqueue(
    *,
    merchant: Merchant,
    events: Sequence[QueuedEvent],
    actor: Actor,
    location_scope: frozenset[int] | None,
    idempotency_key: str,
    fingerprint: str,
    answer: dict[str, Any],
) -> str:
    """Append a batch to the stream; returns its id. `answer` is the 202 body (without the
    id, added here), stored for the Idempotency-Key once the batch is applied. Raises
    QueueUnavailable (nothing queued) when Redis cannot take it or the queue is full."""
    client = _client()
    if client is None:
        raise QueueUnavailable("No Redis is configured to queue events.")
    entry = {
        "merchant_id": merchant.pk,
        "api_key_id": actor.pk if isinstance(actor, ApiKey) else None,
        "user_id": actor.pk if isinstance(actor, User) else None,
        "location_scope": None if location_scope is None else sorted(location_scope),
        "idempotency_key": idempotency_key,
        "fingerprint": fingerprint,
        "received_at": timezone.now().isoformat(),
        "events": [event.as_dict() for event in events],
        "answer": answer,
    }
    try:
        if client.xlen(stream_key()) >= settings.STOCKROOM_FEED_QUEUE_MAX_BATCHES:
            raise QueueUnavailable(
                f"The event queue holds {settings.STOCKROOM_FEED_QUEUE_MAX_BATCHES:,} batches "
                "waiting for the database; send this batch again once it is back."
            )
        return client.xadd(stream_key(), {"batch": orjson.dumps(entry)}).decode()
    except redis.RedisError as error:
        raise QueueUnavailable(f"The event queue cannot be reached: {error}.") from error


def feed_batch_status(*, merchant: Merchant, batch_id: str) -> QueuedFeedBatch | str | None:
    """The merchant's batch `batch_id`: its outcomes once applied, "queued" while it waits in
    the stream, None when there is no such batch."""
    applied = QueuedFeedBatch.objects.filter(merchant=merchant, pk=batch_id).first()
    if applied is not None:
        return applied
    client = _client()
    if client is None:
        return None
    try:
        found = client.xrange(stream_key(), min=batch_id, max=batch_id, count=1)
    except redis.RedisError:  # also an id that is not a stream id
        return None
    if found and orjson.loads(found[0][1][b"batch"])["merchant_id"] == merchant.pk:
        return "queued"
    return None


def feed_queue_drain(*, max_batches: int = 500) -> int:
    """Apply the queued batches, oldest first, exactly once each; returns how many this run
    applied (0 when another drainer holds the lock, or nothing waits). A database failure
    stops the run: what is left stays queued for the next one."""
    client = _client()
    if client is None:
        return 0
    try:
        if client.xlen(stream_key()) == 0:
            return 0
    except redis.RedisError as error:
        logger.warning("feed queue unreadable: %s", error)
        return 0
    applied = 0
    with _one_drainer() as mine:
        if not mine:
            return 0
        for entry_id, fields in client.xrange(stream_key(), count=max_batches):
            batch_id = entry_id.decode()
            _apply_batch(batch_id, orjson.loads(fields[b"batch"]))
            client.xdel(stream_key(), entry_id)
            applied += 1
    return applied


@contextlib.contextmanager
def _one_drainer() -> Iterator[bool]:
    """Hold a session advisory lock for the run (released by PostgreSQL if the drainer dies
    with its connection): batches are applied by one drainer at a time, in order."""
    if connection.vendor != "postgresql":
        yield True
        return
    lock = int.from_bytes(hashlib.sha256(b"feeds:queue:drain").digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock])
        mine = cursor.fetchone()[0]
    try:
        yield mine
    finally:
        if mine:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])


def _actor(entry: dict[str, Any]) -> Actor:
    if entry["api_key_id"] is not None:  # recorded even if revoked since: it was valid then
        return ApiKey.objects.filter(pk=entry["api_key_id"]).first()
    if entry["user_id"] is not None:
        return User.objects.filter(pk=entry["user_id"]).first()
    return None


def _apply_batch(batch_id: str, entry: dict[str, Any]) -> None:
    if QueuedFeedBatch.objects.filter(pk=batch_id).exists():
        return  # applied by a run that died before deleting the entry
    merchant = Merchant.objects.get(pk=entry["merchant_id"])
    events = [QueuedEvent.from_dict(data) for data in entry["events"]]
    results = {event.index: _result(event) for event in events}
    products = products_by_sku(merchant=merchant, skus=[e.sku for e in events])
    locations = locations_by_code(merchant=merchant, codes=[e.location for e in events])
    scope = entry["location_scope"]
    inbound: list[tuple[int, InboundEvent]] = []
    for event in events:
        unknown = {
            name: [f"Unknown {label} {value}."]
            for name, label, value, known in (
                ("sku", "SKU", event.sku, products),
                ("location", "location", event.location, locations),
            )
            if value not in known
        }
        if unknown:
            results[event.index].update(
                code="invalid_request",
                fields=unknown,
                detail=" ".join(m for v in unknown.values() for m in v),
            )
        elif scope is not None and locations[event.location].pk not in scope:
            results[event.index].update(
                code="permission_denied", detail=f"You do not work on location {event.location}."
            )
        else:
            inbound.append(
                (
                    event.index,
                    InboundEvent(
                        source=event.source, event_id=event.event_id, type=event.type,
                        product=products[event.sku], location=locations[event.location],
                        quantity=event.quantity, sequence=event.sequence,
                        occurred_at=event.occurred_at,
                    ),
                )
            )  # fmt: skip
    outcomes = feed_events_apply(
        merchant=merchant, events=[e for _, e in inbound], actor=_actor(entry)
    )
    for (index, _), outcome in zip(inbound, outcomes, strict=True):
        results[index].update(
            outcome=outcome.outcome,
            code=outcome.code,
            detail=outcome.detail,
            ledger_ids=outcome.ledger_ids,
        )
    ordered = [results[index] for index in sorted(results)]
    tally = {name: sum(r["outcome"] == name for r in ordered) for name in OUTCOMES}
    with transaction.atomic():
        QueuedFeedBatch.objects.create(
            id=batch_id,
            merchant=merchant,
            idempotency_key=entry["idempotency_key"],
            received_at=parse_datetime(entry["received_at"]),
            applied_at=timezone.now(),
            results=ordered,
            **tally,
        )
        _remember_answer(merchant, entry, batch_id)


def _result(event: QueuedEvent) -> dict[str, Any]:
    return {
        "index": event.index, "source": event.source, "event_id": event.event_id,
        "outcome": "rejected", "code": "", "detail": "", "fields": {}, "ledger_ids": [],
    }  # fmt: skip


def _remember_answer(merchant: Merchant, entry: dict[str, Any], batch_id: str) -> None:
    """The 202 answer becomes the response replayed for the request's Idempotency-Key (unless
    a retry claimed the key first, once the database was back)."""
    try:
        previous = idempotency.claim(
            merchant_id=merchant.pk,
            key=entry["idempotency_key"],
            operation=OPERATION,
            request={"fingerprint": entry["fingerprint"]},
            result={"request": entry["fingerprint"]},
        )
    except IdempotencyKeyReused:
        return  # taken since by another request: its own answer stays
    if previous is None:
        IdempotencyRecord.objects.filter(merchant=merchant, key=entry["idempotency_key"]).update(
            response_status=202, response_body={**entry["answer"], "batch_id": batch_id}
        )
