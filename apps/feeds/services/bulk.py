"""Bulk stock updates: up to 10,000 count or adjustment lines in one call, applied with a few
set-based statements through the inventory services (never one transaction per line).

`atomic=True`: all lines or none; a refusal raises the service's error.
`atomic=False`: every line gets an outcome. Lines naming an unknown SKU or location are
rejected as such; lines that would be refused are predicted from one read of the current
levels and left out; if stock moved in between and the services still refuse some lines,
those (named by the error) are dropped and the rest applied again, all in one transaction.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.errors import InvalidRequest
from apps.core.models import IdempotencyRecord
from apps.inventory import services
from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    InsufficientStock,
    Shortage,
    VersionConflict,
)
from apps.inventory.figures import shortage_text
from apps.inventory.models import LedgerEntry, Source, StockLevel
from apps.inventory.services.lines import MAX_LINES
from apps.inventory.services.stock import Actor
from apps.locations.models import Location
from apps.merchants.models import Merchant

COUNT = "count"
ADJUST = "adjust"
REFUSALS = (InsufficientStock, CountBelowReserved, ExceedsMaxLevel, VersionConflict)


@dataclass(frozen=True)
class BulkLine:
    """`quantity` is the counted quantity (count) or the signed delta (adjust)."""

    index: int
    product: Product
    location: Location
    quantity: int
    expected_version: int | None = None


@dataclass(frozen=True)
class UnknownLine:
    """A line naming a SKU or location the merchant does not have (`detail` says which)."""

    index: int
    sku: str
    location: str
    detail: str


@dataclass
class LineOutcome:
    index: int
    sku: str
    location: str
    status: str  # applied | rejected
    code: str = ""
    detail: str = ""
    ledger_id: int | None = None
    on_hand: int | None = None
    version: int | None = None


@dataclass
class BulkResult:
    mode: str
    atomic: bool
    applied: int
    rejected: int
    ledger_ids: list[int]
    lines: list[LineOutcome] = field(default_factory=list)
    replayed: bool = False

    def as_dict(self) -> dict:
        # Shallow copies: dataclasses.asdict deep-copies, which costs seconds on 10,000 lines.
        data = {k: v for k, v in vars(self).items() if k != "replayed"}
        return {**data, "lines": [dict(vars(line)) for line in self.lines]}

    @classmethod
    def from_dict(cls, data: dict, *, replayed: bool) -> BulkResult:
        lines = [LineOutcome(**line) for line in data["lines"]]
        return cls(**{**data, "lines": lines, "replayed": replayed})


@transaction.atomic
def bulk_stock_apply(
    *,
    merchant: Merchant,
    mode: str,
    lines: Sequence[BulkLine],
    atomic: bool,
    actor: Actor,
    idempotency_key: str,
    reason: str = "",
    reference: str = "",
    source: str = Source.IMPORT,
    unknown: Sequence[UnknownLine] = (),
) -> BulkResult:
    """`unknown`: lines naming a SKU or location that does not exist, each rejected as such
    (per-line mode only: all or none refuses the whole batch)."""
    key = idempotency.validate_key(idempotency_key)
    if mode not in (COUNT, ADJUST):
        raise InvalidRequest("mode must be 'count' or 'adjust'.", field="mode")
    if not lines and not unknown:
        raise InvalidRequest("At least one line is required.", field="lines")
    if len(lines) + len(unknown) > MAX_LINES:
        raise InvalidRequest(f"At most {MAX_LINES:,} lines per call.", field="lines")
    if atomic and unknown:
        raise InvalidRequest(unknown[0].detail, field=f"lines.{unknown[0].index}")
    if mode == ADJUST and not reason.strip():
        raise InvalidRequest("An adjustment needs a reason.", field="reason")
    request = {
        "mode": mode,
        "atomic": atomic,
        "reason": reason,
        "reference": reference,
        "lines": [
            [ln.product.pk, ln.location.pk, ln.quantity, ln.expected_version] for ln in lines
        ],
        "unknown": [[ln.index, ln.sku, ln.location] for ln in unknown],
    }
    previous = idempotency.claim(
        merchant_id=merchant.pk, key=key, operation=f"bulk.{mode}", request=request, result={}
    )
    if previous is not None:
        return BulkResult.from_dict(previous.result["bulk"], replayed=True)
    inner_key = "bulk:" + hashlib.sha256(key.encode()).hexdigest()[:48]
    apply = _Applier(merchant, mode, actor, inner_key, reason, reference, source)
    rejected: dict[int, tuple[str, str]] = {
        ln.index: ("invalid_request", ln.detail) for ln in unknown
    }
    if atomic:
        entries = apply(lines)
    else:
        rejected.update(_screen(mode, lines))
        while True:
            candidates = [line for line in lines if line.index not in rejected]
            if not candidates:
                entries = []
                break
            try:
                with transaction.atomic():
                    entries = apply(candidates)
                break
            except REFUSALS as error:
                refused = _refused(error, candidates)
                if not refused:
                    raise
                rejected.update(refused)
    result = _result(mode, atomic, lines, unknown, entries, rejected)
    IdempotencyRecord.objects.filter(merchant=merchant, key=key).update(
        result={"bulk": result.as_dict()}
    )
    return result


@dataclass
class _Applier:
    merchant: Merchant
    mode: str
    actor: Actor
    key: str
    reason: str
    reference: str
    source: str

    def __call__(self, lines: Sequence[BulkLine]) -> list[LedgerEntry]:
        common = {
            "merchant": self.merchant,
            "actor": self.actor,
            "source": self.source,
            "reference": self.reference,
        }
        if self.mode == COUNT:
            return services.stock_count(
                lines=_stock_lines(lines), idempotency_key=self.key, note=self.reason, **common
            ).entries
        # The engine creates missing stock levels only for all-positive adjustments: apply the
        # increases of levels that do not exist yet first (they lock only rows nobody else can
        # see yet), then the rest, so mixed batches work; both run in this transaction.
        existing = _existing_pairs(lines)
        new = [ln for ln in lines if (ln.product.pk, ln.location.pk) not in existing]
        rest = [ln for ln in lines if (ln.product.pk, ln.location.pk) in existing]
        entries: list[LedgerEntry] = []
        for part, suffix in ((new, ":new"), (rest, ":existing")):
            if part:
                entries += services.stock_adjust(
                    lines=_stock_lines(part),
                    reason=self.reason,
                    idempotency_key=self.key + suffix,
                    **common,
                ).entries
        return entries


def _stock_lines(lines: Sequence[BulkLine]) -> list[services.StockLine]:
    return [
        services.StockLine(
            product=ln.product,
            location=ln.location,
            quantity=ln.quantity,
            expected_version=ln.expected_version,
        )
        for ln in lines
    ]


def _existing_pairs(lines: Sequence[BulkLine]) -> set[tuple[int, int]]:
    product_ids = {ln.product.pk for ln in lines}
    location_ids = {ln.location.pk for ln in lines}
    return set(
        StockLevel.objects.filter(
            product_id__in=product_ids, location_id__in=location_ids
        ).values_list("product_id", "location_id")
    )


def _screen(mode: str, lines: Sequence[BulkLine]) -> dict[int, tuple[str, str]]:
    """Lines the services would refuse, from one read of the levels (no lock: the services'
    guards remain the authority; this only spares retries)."""
    rejected: dict[int, tuple[str, str]] = {}
    pairs = {(ln.product.pk, ln.location.pk) for ln in lines}
    levels = {
        (level.product_id, level.location_id): level
        for level in StockLevel.objects.with_buckets()
        .filter(product_id__in={p for p, _ in pairs}, location_id__in={loc for _, loc in pairs})
        .only("product_id", "location_id", "on_hand", "reserved", "safety_stock", "version")
        if (level.product_id, level.location_id) in pairs
    }
    seen: set[tuple[int, int]] = set()
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for ln in lines:
        pair = (ln.product.pk, ln.location.pk)
        level = levels.get(pair) or StockLevel()
        reserved, version = level.held, level.version
        where = f"{ln.product.sku} at {ln.location.code}"
        if mode == COUNT and pair in seen:
            rejected[ln.index] = ("duplicate_line", f"{where} appears more than once.")
            continue
        seen.add(pair)
        if ln.expected_version is not None and ln.expected_version != version:
            rejected[ln.index] = (
                "version_conflict",
                f"{where}: expected version {ln.expected_version}, current version is {version}.",
            )
        elif mode == COUNT and ln.quantity < reserved:
            rejected[ln.index] = (
                "count_below_reserved",
                f"{where}: counted {ln.quantity} but {reserved} units are reserved.",
            )
        else:
            totals[pair] += ln.quantity if mode == ADJUST else 0
    if mode == ADJUST:
        for ln in lines:
            pair = (ln.product.pk, ln.location.pk)
            level = levels.get(pair) or StockLevel()
            if ln.index not in rejected and totals[pair] < -level.movable:
                short = Shortage(
                    sku=ln.product.sku,
                    location=ln.location.code,
                    requested=-totals[pair],
                    available=level.available,
                    movable=level.movable,
                )
                rejected[ln.index] = ("insufficient_stock", f"{shortage_text(short)}.")
    return rejected


def _refused(error: Exception, candidates: Sequence[BulkLine]) -> dict[int, tuple[str, str]]:
    """The candidate lines an error names (by SKU and location code)."""
    if isinstance(error, InsufficientStock):
        named = {(s.sku, s.location): f"{shortage_text(s)}." for s in error.shortages}
    else:
        named = {(error.details.get("sku"), error.details.get("location")): error.message}
    return {
        ln.index: (error.code, named[(ln.product.sku, ln.location.code)])
        for ln in candidates
        if (ln.product.sku, ln.location.code) in named
    }


def _result(
    mode: str,
    atomic: bool,
    lines: Sequence[BulkLine],
    unknown: Sequence[UnknownLine],
    entries: Sequence[LedgerEntry],
    rejected: dict[int, tuple[str, str]],
) -> BulkResult:
    by_pair = {(e.product_id, e.location_id): e for e in entries}
    outcomes = []
    named = [(ln.index, ln.sku, ln.location, ln) for ln in unknown]
    named += [(ln.index, ln.product.sku, ln.location.code, ln) for ln in lines]
    for index, sku, code, ln in sorted(named, key=lambda item: item[0]):
        where = {"index": index, "sku": sku, "location": code}
        if index in rejected:
            code, detail = rejected[ln.index]
            outcomes.append(LineOutcome(status="rejected", code=code, detail=detail, **where))
            continue
        entry = by_pair[(ln.product.pk, ln.location.pk)]
        outcomes.append(
            LineOutcome(
                status="applied",
                ledger_id=entry.pk,
                on_hand=entry.on_hand_after,
                version=entry.version_after,
                **where,
            )
        )
    return BulkResult(
        mode=mode,
        atomic=atomic,
        applied=len(outcomes) - len(rejected),
        rejected=len(rejected),
        ledger_ids=[e.pk for e in entries],
        lines=outcomes,
    )
