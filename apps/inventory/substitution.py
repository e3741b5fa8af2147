"""How substitutes stand in for a SKU that is short: the arithmetic, shared by the reservation
that takes them and the availability that says whether it could. Nothing here reads the
database.

Products of a substitution group hold `units` base units each (a 6-pack 6, a 12-pack 12). A
substitute stands in for whole units of the SKU asked for only: one 12-pack for two 6-packs,
two 6-packs for one 12-pack, but no 12-pack for a single 6-pack (half of it would be given
away). So each substitute moves in bundles: the fewest of it that equal a whole number of the
SKU asked for.

Substitutes are tried in the group's priority order, each taking as many whole bundles as fit
in what is still missing; the plan covers exactly what was missing, or there is none (all or
nothing).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """Units of one substitute that can be taken (`key` names it: a product, or a product at a
    location); one of it holds `units` base units."""

    key: Hashable
    units: int
    available: int


@dataclass(frozen=True)
class Taken:
    """`quantity` units of the substitute `key`, standing in for `stands_for` units of the SKU
    asked for."""

    key: Hashable
    quantity: int
    stands_for: int


def bundle(asked_units: int, substitute_units: int) -> tuple[int, int]:
    """(units of the substitute, units of the SKU asked for) in its smallest whole exchange:
    (1, 2) for a 12-pack standing in for 6-packs, (2, 1) for 6-packs standing in for a
    12-pack."""
    common = math.lcm(asked_units, substitute_units)
    return common // substitute_units, common // asked_units


def cover(quantity: int, asked_units: int, options: Sequence[Option]) -> list[Taken] | None:
    """Exactly `quantity` units of the SKU asked for (holding `asked_units` each) from the
    options, in their order; None when they cannot make it up exactly."""
    taken: list[Taken] = []
    missing = quantity
    for option in options:
        if missing == 0:
            break
        per_bundle, stands_for = bundle(asked_units, option.units)
        bundles = min(option.available // per_bundle, missing // stands_for)
        if bundles > 0:
            taken.append(Taken(option.key, bundles * per_bundle, bundles * stands_for))
            missing -= bundles * stands_for
    return taken if missing == 0 else None


def stands_for(asked_units: int, option: Option) -> int:
    """How many units of the SKU asked for the option's available units can stand in for."""
    per_bundle, covers = bundle(asked_units, option.units)
    return option.available // per_bundle * covers
