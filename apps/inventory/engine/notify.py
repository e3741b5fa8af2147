"""What happens once a transaction that changed stock commits."""

from __future__ import annotations

from apps.core import hooks
from apps.inventory import availability_cache


def after_commit(product_ids: list[int]) -> None:
    """Once this transaction commits: publish its outbox rows (the `outbox_committed` hook) and
    drop the cached availability of the products it changed (nothing happens if it rolls
    back)."""
    hooks.outbox_committed.send_on_commit()
    availability_cache.invalidate_after_commit(product_ids)
