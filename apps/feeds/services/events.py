"""The POS and supplier event feed: sales, receipts, returns and counts, delivered at least
once, possibly late, duplicated or out of order.

- A redelivered (source, event_id) has no second effect (`duplicate`).
- Events of one stock level are ordered by position (see FeedEvent). An event older than the
  newest applied count of its level is `stale`: the count already reflects it (recorded, no
  effect).
- Events with an `occurred_at` say when they happened, which places them among every other
  channel's movements (the ledger records that moment): a count sets on_hand to the counted
  quantity plus every on-hand movement that took effect after it, from any source (online
  commits, receipts, transfers, adjustments, other feed events); an event that happened
  before a count of any channel (the admin's, the API's, an import's) is `stale`. Events with
  only a `sequence` are ordered among the feed's own events: a count adds the feed's deltas
  with a higher sequence.
- Deltas (sale, receipt, return) apply exactly once through the inventory services; a sale
  that the stock cannot cover is `rejected` (stock never goes negative) and may be resent.

Each event is its own short transaction, serialized per stock level by an advisory lock, so
the outcome of one event never depends on another event of the batch failing.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from apps.catalog.models import Product
from apps.core.db_errors import retry_on_conflict
from apps.core.errors import DomainError, InvalidRequest
from apps.feeds.models import FeedEvent
from apps.inventory import services
from apps.inventory.exceptions import CountedSince
from apps.inventory.models import Source
from apps.inventory.services.stock import Actor
from apps.locations.models import Location
from apps.merchants.models import Merchant

Type = FeedEvent.Type
Outcome = FeedEvent.Outcome
DELTA_SIGN = {Type.SALE: -1, Type.RECEIPT: 1, Type.RETURN: 1, Type.COUNT: 0}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Outcomes that are reported but not stored (stored ones are FeedEvent.Outcome).
DUPLICATE = "duplicate"
REJECTED = "rejected"


@dataclass(frozen=True)
class InboundEvent:
    source: str
    event_id: str
    type: str
    product: Product
    location: Location
    quantity: int
    sequence: int | None = None
    occurred_at: datetime | None = None

    @property
    def position(self) -> int:
        if self.occurred_at is not None:
            delta = self.occurred_at - EPOCH
            return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        if self.sequence is not None:
            return self.sequence
        raise InvalidRequest("An event needs a sequence or an occurred_at.", field="sequence")

    @property
    def order_key(self) -> tuple[int, str, str]:
        return (self.position, self.source, self.event_id)


@dataclass
class EventOutcome:
    outcome: str  # applied | duplicate | stale | rejected
    code: str = ""
    detail: str = ""
    ledger_ids: list[int] = field(default_factory=list)


def feed_events_apply(
    *, merchant: Merchant, events: Sequence[InboundEvent], actor: Actor = None
) -> list[EventOutcome]:
    """Apply a batch; outcomes come back in the order given. Events are applied in position
    order, which spares needless `stale` outcomes when a batch is itself out of order.
    `actor` (the API key or user that delivered the batch) is recorded in the ledger."""
    outcomes: list[EventOutcome | None] = [None] * len(events)
    for index in sorted(range(len(events)), key=lambda i: events[i].order_key):
        outcomes[index] = feed_event_apply(merchant=merchant, event=events[index], actor=actor)
    return [outcome for outcome in outcomes if outcome is not None]


def feed_event_apply(
    *, merchant: Merchant, event: InboundEvent, actor: Actor = None
) -> EventOutcome:
    """Apply one event exactly once (see the module docstring). Never raises a domain error:
    a refusal is the `rejected` outcome, after which nothing was recorded. A deadlock or
    serialization failure runs the event's transaction again."""
    try:
        return retry_on_conflict(functools.partial(_apply, merchant, event, actor))
    except DomainError as error:
        return EventOutcome(REJECTED, code=error.code, detail=error.message)


def _duplicate(merchant: Merchant, event: InboundEvent) -> EventOutcome:
    first = FeedEvent.objects.get(merchant=merchant, source=event.source, event_id=event.event_id)
    return EventOutcome(
        DUPLICATE,
        code="duplicate",
        detail=f"Already received at {first.received_at.isoformat()} ({first.outcome}).",
        ledger_ids=list(first.ledger_entry_ids),
    )


@transaction.atomic
def _apply(merchant: Merchant, event: InboundEvent, actor: Actor) -> EventOutcome:
    _lock_level(merchant.pk, event.product.pk, event.location.pk)
    if FeedEvent.objects.filter(
        merchant=merchant, source=event.source, event_id=event.event_id
    ).exists():
        return _duplicate(merchant, event)
    applied = FeedEvent.objects.filter(
        merchant=merchant, product=event.product, location=event.location, outcome=Outcome.APPLIED
    )
    newest_count = (
        applied.filter(type=Type.COUNT)
        .order_by("-position", "-source", "-event_id")
        .only("position", "source", "event_id")
        .first()
    )
    stale = newest_count is not None and event.order_key <= (
        newest_count.position,
        newest_count.source,
        newest_count.event_id,
    )
    detail = (
        f"Older than the applied count {newest_count.source}:{newest_count.event_id}."
        if stale
        else ""
    )
    row = _record(merchant, event, Outcome.STALE if stale else Outcome.APPLIED, detail)
    if row is None:
        return _duplicate(merchant, event)
    if stale:
        return EventOutcome(Outcome.STALE, code="stale", detail=detail)
    line_quantity = event.quantity
    if event.type == Type.COUNT:
        # The feed's own deltas after the count by its order: with a time, only those at the
        # very same moment (the ledger gives the engine every movement after it); without
        # one, all with a higher sequence.
        position, source, event_id = event.order_key
        tie = Q(position=position, source__gt=source) | Q(
            position=position, source=source, event_id__gt=event_id
        )
        newer = tie if event.occurred_at is not None else Q(position__gt=position) | tie
        later = (
            applied.exclude(type=Type.COUNT).filter(newer).aggregate(total=Sum("on_hand_delta"))
        )["total"] or 0
        line_quantity = event.quantity + later
        if line_quantity < 0:
            raise InvalidRequest(
                f"Counted {event.quantity}, but {-later} units left in newer events already "
                "applied: the count cannot be right.",
                field="quantity",
            )
    try:
        result = _call_service(merchant, event, line_quantity, actor)
    except CountedSince as error:  # a count of another channel, taken later, reflects it
        row.outcome, row.detail = Outcome.STALE, error.message[:500]
        row.save(update_fields=["outcome", "detail"])
        return EventOutcome(Outcome.STALE, code="stale", detail=row.detail)
    row.ledger_entry_ids = [entry.pk for entry in result.entries]
    row.save(update_fields=["ledger_entry_ids"])
    return EventOutcome(Outcome.APPLIED, ledger_ids=row.ledger_entry_ids)


def _record(merchant: Merchant, event: InboundEvent, outcome: str, detail: str) -> FeedEvent | None:
    """Claim (source, event_id); None when a concurrent delivery of it claimed it first."""
    try:
        with transaction.atomic():
            return FeedEvent.objects.create(
                merchant=merchant,
                source=event.source,
                event_id=event.event_id,
                type=event.type,
                product=event.product,
                location=event.location,
                quantity=event.quantity,
                on_hand_delta=DELTA_SIGN[event.type] * event.quantity,
                sequence=event.sequence,
                occurred_at=event.occurred_at,
                position=event.position,
                outcome=outcome,
                detail=detail,
                received_at=timezone.now(),
            )
    except IntegrityError:
        return None


def _call_service(
    merchant: Merchant, event: InboundEvent, quantity: int, actor: Actor
) -> services.StockChangeResult:
    common = {
        "merchant": merchant,
        "lines": [
            services.StockLine(product=event.product, location=event.location, quantity=quantity)
        ],
        "actor": actor,
        "idempotency_key": _service_key(event),
        "source": Source.SUPPLIER if event.type == Type.RECEIPT else Source.POS,
        "reference": f"{event.source}:{event.event_id}"[:200],
    }
    if event.type == Type.COUNT:
        return services.stock_count(counted_at=event.occurred_at, **common)
    common["occurred_at"] = event.occurred_at
    if event.type == Type.SALE:
        return services.stock_ship(**common)
    if event.type == Type.RECEIPT:
        return services.stock_receive(**common)
    return services.stock_return(restock=True, **common)


def _service_key(event: InboundEvent) -> str:
    digest = hashlib.sha256(f"{event.source}\x00{event.event_id}".encode()).hexdigest()[:40]
    return f"feed:{digest}"


def _lock_level(merchant_id: int, product_id: int, location_id: int) -> None:
    """Serialize feed events of one stock level until the transaction ends (PostgreSQL; other
    databases serialize writers anyway)."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"feed:{merchant_id}:{product_id}:{location_id}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )
