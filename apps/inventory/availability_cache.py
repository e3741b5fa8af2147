"""Availability reads served from Redis, invalidated by a per-product generation counter.

Keys (Redis db of `REDIS_URL`):
  avail:sku:<merchant>:<sku>         -> product id (10 minutes)
  avail:gen:<product>                -> generation, INCR'd after every commit that moves stock
  avail:data:<merchant>:<sku>:<gen>  -> the availability figures at that generation (TTL_SECONDS)

A read is one Redis round trip (a Lua script reads the three keys). On a miss the reader takes
the generation *before* querying the database and stores what it read under that generation; the
engine increments the generation *after* its transaction commits. So a value stored under
generation g was read no earlier than the commit that produced g's predecessor: once a writer's
INCR has happened, no reader can be served figures older than that commit. Staleness is bounded
by the commit-to-INCR gap (an after-commit callback in the writing process), and by TTL_SECONDS
when an INCR is lost (Redis unreachable at that moment) or for changes that move no stock
(a location's status, a product's activation).

Redis is an accelerator, never a dependency: any Redis error sends the read to the database and
skips the cache for BACKOFF_SECONDS; invalidation errors are swallowed (the TTL bounds them).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Iterable
from typing import Any

import redis
from django.db import transaction

from apps.catalog.models import Product
from apps.core.errors import ObjectNotFound
from apps.core.redis_pool import FastPath
from apps.inventory import selectors
from apps.merchants.models import Merchant

logger = logging.getLogger(__name__)

TTL_SECONDS = 10
SKU_TTL_SECONDS = 600
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 0.1

_READ = """
local product = redis.call('GET', KEYS[1])
if not product then return {} end
local gen = redis.call('GET', 'avail:gen:' .. product) or '0'
return {product, gen, redis.call('GET', ARGV[1] .. gen) or ''}
"""

redis_path = FastPath(
    "availability cache", timeout=TIMEOUT_SECONDS, backoff_seconds=BACKOFF_SECONDS
)


def _connection() -> tuple[redis.Redis, Any] | None:
    """The process's client (thread-safe, pooled) and read script, or None when Redis is not
    configured or failed less than BACKOFF_SECONDS ago."""
    client = redis_path.client()
    if client is None:
        return None
    return client, redis_path.script(client, _READ)


def _data_prefix(merchant_id: int, sku: str) -> str:
    return f"avail:data:{merchant_id}:{sku}:"


def _for_quantity(base: selectors.Availability, quantity: int) -> selectors.Availability:
    return dataclasses.replace(
        base,
        requested=quantity,
        can_serve=base.active and base.available >= quantity,
        can_serve_from_one_location=base.active
        and any(place.available >= quantity for place in base.locations),
    )


def _encode(result: selectors.Availability) -> str:
    return json.dumps(dataclasses.asdict(result), separators=(",", ":"))


def _decode(raw: bytes) -> selectors.Availability:
    data = json.loads(raw)
    data["locations"] = [selectors.LocationAvailability(**place) for place in data["locations"]]
    return selectors.Availability(**data)


def availability(*, merchant: Merchant, sku: str, quantity: int = 1) -> selectors.Availability:
    """The same answer as `selectors.availability`, from the cache when it holds the current
    generation. Never fails because of Redis."""
    found = _connection()
    if found is None:
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)
    client, read = found
    prefix = _data_prefix(merchant.pk, sku)
    sku_key = f"avail:sku:{merchant.pk}:{sku}"
    try:
        found = read(keys=[sku_key], args=[prefix])
        if found and found[2]:
            return _for_quantity(_decode(found[2]), quantity)
        if found:
            product_id, generation = int(found[0]), found[1].decode()
        else:
            product_id = (
                Product.objects.filter(merchant=merchant, sku=sku)
                .values_list("pk", flat=True)
                .first()
            )
            if product_id is None:
                raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
            generation = (client.get(f"avail:gen:{product_id}") or b"0").decode()
        # The generation is read before the database: see the module docstring.
        result = selectors.availability(merchant=merchant, sku=sku, quantity=1)
        pipe = client.pipeline(transaction=False)
        pipe.set(sku_key, product_id, ex=SKU_TTL_SECONDS)
        pipe.set(prefix + generation, _encode(result), ex=TTL_SECONDS)
        pipe.execute()
        return _for_quantity(result, quantity)
    except redis.RedisError as error:
        redis_path.failed(error)
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)


def invalidate(product_ids: Iterable[int]) -> None:
    """Move the generation of each product on: cached figures for it stop being served."""
    found = _connection()
    if found is None:
        return
    client, _ = found
    try:
        pipe = client.pipeline(transaction=False)
        for product_id in sorted(set(product_ids)):
            pipe.incr(f"avail:gen:{product_id}")
        pipe.execute()
    except redis.RedisError as error:
        redis_path.failed(error)


def invalidate_after_commit(product_ids: Iterable[int]) -> None:
    """Invalidate once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(functools.partial(invalidate, frozenset(product_ids)), robust=True)
