"""Saving merchant-scoped objects whose natural key (SKU, location code) is unique."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, models, transaction

from apps.core.errors import InvalidRequest


def save_unique(
    obj: models.Model, *, field: str, message: str, update_fields: Sequence[str] | None = None
) -> None:
    """Save `obj`; when another object of its merchant already has the same `field`, refuse
    with InvalidRequest on that field (other integrity errors are not ours to explain)."""
    try:
        with transaction.atomic():
            obj.save(update_fields=update_fields)
    except IntegrityError:
        clash = (
            type(obj)
            ._default_manager.filter(merchant_id=obj.merchant_id, **{field: getattr(obj, field)})
            .exclude(pk=obj.pk)
            .exists()
        )
        if not clash:
            raise
        raise InvalidRequest(message, field=field) from None
