"""Replays the ledger and compares it with the balances (read-only).

The ledger is the truth: for every stock level, the sum of each quantity's deltas must equal
the stored balance, the number of entries must equal the version, `reserved` must equal the
units held by active reservations on the level itself plus the units allotted to its buckets,
and `in_transit` the units of shipped, unreceived transfers. For every bucket, the same against
the bucket ledger, and its `reserved` must equal the units of the active lines it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

QUANTITIES = ("on_hand", "reserved", "damaged", "in_transit")


@dataclass
class Drift:
    stock_level_id: int
    sku: str
    location: str
    problems: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (stored, expected)

    def describe(self) -> str:
        parts = [
            f"{name} stored {stored} expected {expected}"
            for name, (stored, expected) in self.problems.items()
        ]
        return f"{self.sku}@{self.location} (level {self.stock_level_id}): " + ", ".join(parts)

    def replayed_balances(self) -> dict[str, int]:
        return {
            name: expected
            for name, (_, expected) in self.problems.items()
            if name in (*QUANTITIES, "version")
        }


_REPLAY_SQL = """
SELECT s.id, p.sku, l.code,
       s.on_hand, COALESCE(g.on_hand, 0),
       s.reserved, COALESCE(g.reserved, 0),
       s.damaged, COALESCE(g.damaged, 0),
       s.in_transit, COALESCE(g.in_transit, 0),
       s.version, COALESCE(g.entries, 0),
       COALESCE(h.held, 0),
       COALESCE(t.moving, 0)
FROM inventory_stocklevel s
JOIN catalog_product p ON p.id = s.product_id
JOIN locations_location l ON l.id = s.location_id
LEFT JOIN (
    SELECT stock_level_id, SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved,
           SUM(damaged_delta) AS damaged, SUM(in_transit_delta) AS in_transit, COUNT(*) AS entries
    FROM inventory_ledgerentry GROUP BY stock_level_id
) g ON g.stock_level_id = s.id
LEFT JOIN (
    SELECT held.stock_level_id, SUM(held.units) AS held FROM (
        SELECT rl.stock_level_id, rl.quantity AS units
        FROM inventory_reservationline rl
        JOIN inventory_reservation r ON r.id = rl.reservation_id AND r.status = 'active'
        WHERE rl.bucket_id IS NULL
        UNION ALL
        SELECT b.stock_level_id, b.allotted FROM inventory_stockbucket b
    ) held
    GROUP BY held.stock_level_id
) h ON h.stock_level_id = s.id
LEFT JOIN (
    SELECT tl.product_id, tr.destination_location_id AS location_id, SUM(tl.quantity) AS moving
    FROM inventory_transferline tl
    JOIN inventory_transfer tr ON tr.id = tl.transfer_id AND tr.status = 'in_transit'
    GROUP BY tl.product_id, tr.destination_location_id
) t ON t.product_id = s.product_id AND t.location_id = s.location_id
WHERE s.on_hand <> COALESCE(g.on_hand, 0)
   OR s.reserved <> COALESCE(g.reserved, 0)
   OR s.damaged <> COALESCE(g.damaged, 0)
   OR s.in_transit <> COALESCE(g.in_transit, 0)
   OR s.version <> COALESCE(g.entries, 0)
   OR s.reserved <> COALESCE(h.held, 0)
   OR s.in_transit <> COALESCE(t.moving, 0)
   OR s.reserved > s.on_hand
   OR s.on_hand < 0
ORDER BY s.id
"""


_BUCKET_REPLAY_SQL = """
SELECT b.stock_level_id, p.sku, l.code, b.number,
       b.allotted, COALESCE(g.allotted, 0),
       b.reserved, COALESCE(g.reserved, 0),
       b.version, COALESCE(g.entries, 0),
       COALESCE(h.held, 0)
FROM inventory_stockbucket b
JOIN inventory_stocklevel s ON s.id = b.stock_level_id
JOIN catalog_product p ON p.id = s.product_id
JOIN locations_location l ON l.id = s.location_id
LEFT JOIN (
    SELECT bucket_id, SUM(allotted_delta) AS allotted, SUM(reserved_delta) AS reserved,
           COUNT(*) AS entries
    FROM inventory_bucketledgerentry GROUP BY bucket_id
) g ON g.bucket_id = b.id
LEFT JOIN (
    SELECT rl.bucket_id, SUM(rl.quantity) AS held
    FROM inventory_reservationline rl
    JOIN inventory_reservation r ON r.id = rl.reservation_id AND r.status = 'active'
    WHERE rl.bucket_id IS NOT NULL
    GROUP BY rl.bucket_id
) h ON h.bucket_id = b.id
WHERE b.allotted <> COALESCE(g.allotted, 0)
   OR b.reserved <> COALESCE(g.reserved, 0)
   OR b.version <> COALESCE(g.entries, 0)
   OR b.reserved <> COALESCE(h.held, 0)
   OR b.reserved > b.allotted
   OR b.reserved < 0
ORDER BY b.stock_level_id, b.number
"""


def find_drift(limit: int | None = None) -> list[Drift]:
    """Every stock level whose balances, or whose buckets' balances, disagree with their
    ledger, reservations or transfers. Two aggregate queries: fast enough for millions of
    rows. Bucket problems are named `bucket <number> <quantity>`."""
    drifts = _level_drift()
    by_level = {drift.stock_level_id: drift for drift in drifts}
    for drift in _bucket_drift():
        found = by_level.get(drift.stock_level_id)
        if found is None:
            by_level[drift.stock_level_id] = drift
            drifts.append(drift)
        else:
            found.problems.update(drift.problems)
    drifts.sort(key=lambda drift: drift.stock_level_id)
    return drifts[:limit] if limit else drifts


def _bucket_drift() -> list[Drift]:
    drifts: dict[int, Drift] = {}
    with connection.cursor() as cursor:
        cursor.execute(_BUCKET_REPLAY_SQL)
        for row in cursor.fetchall():
            (level_id, sku, code, number, allotted, l_allotted, reserved, l_reserved,
             version, entries, held) = row  # fmt: skip
            drift = drifts.setdefault(level_id, Drift(level_id, sku=sku, location=code))
            for name, stored, expected in (
                ("allotted", allotted, l_allotted),
                ("reserved", reserved, l_reserved),
                ("version", version, entries),
                ("reserved_vs_active_reservations", l_reserved, held),
            ):
                if stored != expected:
                    drift.problems[f"bucket {number} {name}"] = (int(stored), int(expected))
            if reserved > allotted:
                drift.problems[f"bucket {number} oversold"] = (int(reserved), int(allotted))
    return list(drifts.values())


def _level_drift() -> list[Drift]:
    sql = _REPLAY_SQL
    drifts = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for row in cursor.fetchall():
            (level_id, sku, code, on_hand, l_on_hand, reserved, l_reserved, damaged, l_damaged,
             in_transit, l_in_transit, version, entries, held, moving) = row  # fmt: skip
            drift = Drift(stock_level_id=level_id, sku=sku, location=code)
            for name, stored, expected in (
                ("on_hand", on_hand, l_on_hand),
                ("reserved", reserved, l_reserved),
                ("damaged", damaged, l_damaged),
                ("in_transit", in_transit, l_in_transit),
                ("version", version, entries),
                ("reserved_vs_active_reservations", l_reserved, held),
                ("in_transit_vs_open_transfers", l_in_transit, moving),
            ):
                if stored != expected:
                    drift.problems[name] = (int(stored), int(expected))
            if reserved > on_hand:
                drift.problems["oversold"] = (int(reserved), int(on_hand))
            drifts.append(drift)
    return drifts


def oversold_units() -> int:
    """Units promised beyond what is on hand, over all levels (CHECK constraints keep it 0)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(reserved - on_hand), 0) FROM inventory_stocklevel WHERE reserved > on_hand"
        )
        return int(cursor.fetchone()[0])
