"""Availability reads served from memory or Redis, invalidated by every committed change.

Two levels, both keyed by merchant and SKU:

1. **This process's memory**: the figures and their encoded JSON, valid until an invalidation
   message names the product or the merchant (`apps.core.invalidation`) or LOCAL_TTL_SECONDS
   pass. A hit costs no round trip at all.
2. **Redis** (db of `REDIS_URL`), one round trip (a Lua script reads the keys):
     avail:sku:<merchant>:<sku>                 -> product id (SKU_TTL_SECONDS)
     avail:gen:<product>                        -> generation, INCR'd after every stock commit
     avail:mgen:<merchant>                      -> generation of the merchant's locations
     avail:data:<merchant>:<sku>:<gen>:<mgen>   -> the figures at those generations

On a Redis miss the reader takes the generations *before* querying the database and stores
what it read under them; writers move the generations on *after* their transaction commits,
and publish the invalidation in the same round trip. So figures stored under a generation were
read no earlier than the commit that produced it: once a writer's INCR has happened, no reader
is served figures older than that commit, from Redis or (after its listener has the message,
well under a millisecond later) from memory. Staleness is bounded by the commit-to-INCR gap
(an after-commit callback in the writing process), and by TTL_SECONDS when an invalidation is
lost (Redis unreachable at that moment).

Redis is an accelerator, never a dependency: any Redis error sends the read to the database and
skips the cache for BACKOFF_SECONDS; invalidation errors are swallowed (the TTLs bound them).
All keys carry the deployment's prefix (`STOCKROOM_REDIS_PREFIX`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db import transaction

from apps.catalog.models import Product
from apps.core.errors import ObjectNotFound
from apps.core.invalidation import InvalidationChannel
from apps.core.redis_pool import FastPath
from apps.inventory import selectors
from apps.merchants.models import Merchant

logger = logging.getLogger(__name__)

TTL_SECONDS = 300
LOCAL_TTL_SECONDS = 60
LOCAL_MAX_ENTRIES = 100_000
SKU_TTL_SECONDS = 3600
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 0.1

_READ = """
local product = redis.call('GET', KEYS[1])
if not product then return {} end
local gen = redis.call('GET', ARGV[2] .. product) or '0'
local mgen = redis.call('GET', KEYS[2]) or '0'
return {product, gen, mgen, redis.call('GET', ARGV[1] .. gen .. ':' .. mgen) or ''}
"""

redis_path = FastPath(
    "availability cache", timeout=TIMEOUT_SECONDS, backoff_seconds=BACKOFF_SECONDS
)
invalidations = InvalidationChannel("availability")


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    result: selectors.Availability
    encoded: bytes  # the document for quantity 1
    sources: tuple[str, ...]
    token: Any
    expires: float


_local: dict[tuple[int, str], _Entry] = {}


def _key(name: str) -> str:
    return f"{settings.STOCKROOM_REDIS_PREFIX}:avail:{name}"


def _sources(merchant_id: int, product_id: int) -> tuple[str, ...]:
    return (f"p:{product_id}", f"m:{merchant_id}")


def encode(result: selectors.Availability) -> bytes:
    """The API's JSON document for `result` (the dataclass has exactly the documented fields)."""
    return orjson.dumps(dataclasses.asdict(result))


def _decode(raw: bytes) -> selectors.Availability:
    data = orjson.loads(raw)
    data["locations"] = [selectors.LocationAvailability(**place) for place in data["locations"]]
    return selectors.Availability(**data)


def _for_quantity(base: selectors.Availability, quantity: int) -> selectors.Availability:
    if quantity == base.requested:
        return base
    return dataclasses.replace(
        base,
        requested=quantity,
        can_serve=base.active and base.available >= quantity,
        can_serve_from_one_location=base.active
        and any(place.available >= quantity for place in base.locations),
    )


def _fresh(merchant: Merchant, sku: str) -> _Entry | None:
    entry = _local.get((merchant.pk, sku))
    if (
        entry is not None
        and entry.expires > time.monotonic()
        and invalidations.valid(entry.token, entry.sources)
    ):
        return entry
    return None


def availability_document(*, merchant: Merchant, sku: str, quantity: int = 1) -> bytes:
    """The encoded availability document (the API's answer), as `availability`: from this
    process's memory when it holds current figures, encoded once per change."""
    entry = _fresh(merchant, sku)
    if entry is not None and quantity == entry.result.requested:
        return entry.encoded
    return encode(availability(merchant=merchant, sku=sku, quantity=quantity))


def availability(*, merchant: Merchant, sku: str, quantity: int = 1) -> selectors.Availability:
    """The same answer as `selectors.availability`, from memory or Redis when they hold the
    current generation. Never fails because of Redis."""
    entry = _fresh(merchant, sku)
    if entry is not None:
        return _for_quantity(entry.result, quantity)
    client = redis_path.client()
    if client is None:
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)
    token = invalidations.token()  # before anything is read: see apps.core.invalidation
    try:
        product_id, result = _through_redis(client, merchant, sku)
    except redis.RedisError as error:
        redis_path.failed(error)
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)
    if token is not None:
        if len(_local) >= LOCAL_MAX_ENTRIES:
            _local.clear()
        _local[(merchant.pk, sku)] = _Entry(
            result=result,
            encoded=encode(result),
            sources=_sources(merchant.pk, product_id),
            token=token,
            expires=time.monotonic() + LOCAL_TTL_SECONDS,
        )
    return _for_quantity(result, quantity)


def _through_redis(
    client: redis.Redis, merchant: Merchant, sku: str
) -> tuple[int, selectors.Availability]:
    """(product id, figures for quantity 1) from Redis, or from the database stored in Redis."""
    data_prefix = _key(f"data:{merchant.pk}:{sku}:")
    sku_key = _key(f"sku:{merchant.pk}:{sku}")
    merchant_key = _key(f"mgen:{merchant.pk}")
    found = redis_path.script(client, _READ)(
        keys=[sku_key, merchant_key], args=[data_prefix, _key("gen:")]
    )
    if found and found[3]:
        return int(found[0]), _decode(found[3])
    if found:
        product_id, generation, merchant_generation = int(found[0]), found[1], found[2]
    else:
        product_id = (
            Product.objects.filter(merchant=merchant, sku=sku).values_list("pk", flat=True).first()
        )
        if product_id is None:
            raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
        generation, merchant_generation = client.mget(_key(f"gen:{product_id}"), merchant_key)
    # The generations are read before the database: see the module docstring.
    result = selectors.availability(merchant=merchant, sku=sku, quantity=1)
    data_key = (
        f"{data_prefix}{(generation or b'0').decode()}:{(merchant_generation or b'0').decode()}"
    )
    pipe = client.pipeline(transaction=False)
    pipe.set(sku_key, product_id, ex=SKU_TTL_SECONDS)
    pipe.set(data_key, encode(result), ex=TTL_SECONDS)
    pipe.execute()
    return product_id, result


def invalidate(product_ids: Iterable[int] = (), merchant_ids: Iterable[int] = ()) -> None:
    """Move the generation of each product (and each merchant's locations) on, and tell every
    process: cached figures for them stop being served. One round trip."""
    products, merchants = sorted(set(product_ids)), sorted(set(merchant_ids))
    names = [f"p:{p}" for p in products] + [f"m:{m}" for m in merchants]
    if not names:
        return
    invalidations.applied(names)  # this process at once, whatever happens to Redis
    client = redis_path.client()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for product_id in products:
            pipe.incr(_key(f"gen:{product_id}"))
        for merchant_id in merchants:
            pipe.incr(_key(f"mgen:{merchant_id}"))
        invalidations.publish(pipe, names)
        pipe.execute()
    except redis.RedisError as error:
        redis_path.failed(error)


def invalidate_after_commit(
    product_ids: Iterable[int] = (), merchant_ids: Iterable[int] = ()
) -> None:
    """Invalidate once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(
        functools.partial(invalidate, frozenset(product_ids), frozenset(merchant_ids)), robust=True
    )
