"""Availability reads served from memory or Redis, invalidated by every committed change.

Two levels, both keyed by merchant and SKU:

1. **This process's memory**: the figures and their encoded JSON, valid until an invalidation
   message names the product or the merchant (`apps.core.invalidation`) or LOCAL_TTL_SECONDS
   pass. A hit costs no round trip at all.
2. **Redis** (db of `REDIS_URL`), one round trip (a Lua script reads the keys):
     avail:sku:<merchant>:<sku>                 -> "<product id>|<substitute ids>|<mgen>"
                                                   (SKU_TTL_SECONDS)
     avail:gen:<product>                        -> generation, INCR'd after every stock commit
     avail:mgen:<merchant>                      -> generation of the merchant's locations and
                                                   substitution groups
     avail:data:<merchant>:<sku>:<gen>:<mgen>   -> the figures at those generations
   A SKU's answer includes its substitutes' figures, so its `<gen>` is the product's
   generation followed by each substitute's ("4.0.7"): a change to any of them moves it on.
   The substitutes are those the sku key recorded at `<mgen>`; once the merchant's generation
   has moved on (a group changed) they are read again from the database.

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

**The last known answer.** Every answer read from the database is also kept, with the time it
was read, under `avail:last:<merchant>:<sku>` for STOCKROOM_STALE_AVAILABILITY_SECONDS, which no
invalidation touches. While PostgreSQL cannot be reached (`apps.core.db_errors.database_outage`)
a read the generations cannot serve gets that answer, marked `stale` with its age; without one
the read fails (503) as before.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson
import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from apps.core import db_errors
from apps.core.invalidation import InvalidationChannel
from apps.core.redis_pool import FastPath
from apps.inventory import selectors
from apps.merchants.models import Merchant

logger = logging.getLogger(__name__)
T = TypeVar("T")

TTL_SECONDS = 300
LOCAL_TTL_SECONDS = 60
LOCAL_MAX_ENTRIES = 100_000
SKU_TTL_SECONDS = 3600
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 0.1

# {product id, generation, merchant generation, figures or '', substitute ids}; the figures
# are '' (and the substitutes unknown: false) when the sku key's substitutes may be out of date.
_READ = """
local found = redis.call('GET', KEYS[1])
if not found then return {} end
local product, subs, seen = string.match(found, '^(%d+)|([%d,]*)|(%d+)$')
if not product then return {} end
local mgen = redis.call('GET', KEYS[2]) or '0'
if seen ~= mgen then return {product, '', mgen, '', false} end
local gen = redis.call('GET', ARGV[2] .. product) or '0'
for id in string.gmatch(subs, '%d+') do
  gen = gen .. '.' .. (redis.call('GET', ARGV[2] .. id) or '0')
end
return {product, gen, mgen, redis.call('GET', ARGV[1] .. gen .. ':' .. mgen) or '', subs}
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


def _sources(merchant_id: int, product_ids: tuple[int, ...]) -> tuple[str, ...]:
    return (*(f"p:{pk}" for pk in product_ids), f"m:{merchant_id}")


def encode(result: selectors.Availability) -> bytes:
    """The API's JSON document for `result` (the dataclass has exactly the documented fields)."""
    return orjson.dumps(dataclasses.asdict(result))


def _decode(raw: bytes | dict[str, Any]) -> selectors.Availability:
    data = orjson.loads(raw) if isinstance(raw, bytes) else raw
    data["locations"] = [selectors.LocationAvailability(**place) for place in data["locations"]]
    data["substitutes"] = [
        selectors.SubstituteAvailability(**place) for place in data.get("substitutes", ())
    ]
    return selectors.Availability(**data)


def _for_quantity(base: selectors.Availability, quantity: int) -> selectors.Availability:
    if quantity == base.requested:
        return base
    return selectors.for_quantity(base, quantity)


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """An availability document as the API sends it: `stale` when it is the last known answer
    served while the database could not be reached, `age_seconds` old."""

    body: bytes
    stale: bool = False
    age_seconds: int | None = None


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
    return availability_answer(merchant=merchant, sku=sku, quantity=quantity).body


def availability_answer(*, merchant: Merchant, sku: str, quantity: int = 1) -> Answer:
    """`availability_document`, saying whether it is the last known answer (stale)."""
    entry = _fresh(merchant, sku)
    if entry is not None and quantity == entry.result.requested:
        return Answer(entry.encoded)
    result = availability(merchant=merchant, sku=sku, quantity=quantity)
    return Answer(encode(result), result.stale, result.age_seconds)


def availability(*, merchant: Merchant, sku: str, quantity: int = 1) -> selectors.Availability:
    """The same answer as `selectors.availability`, from memory or Redis when they hold the
    current generation. Never fails because of Redis. While the database cannot be reached,
    the last known answer (`stale`, with its age) when Redis holds one."""
    entry = _fresh(merchant, sku)
    if entry is not None:
        return _for_quantity(entry.result, quantity)
    client = redis_path.client()
    if client is None:
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)
    token = invalidations.token()  # before anything is read: see apps.core.invalidation
    try:
        product_ids, result = _through_redis(client, merchant, sku)
    except redis.RedisError as error:
        redis_path.failed(error)
        return selectors.availability(merchant=merchant, sku=sku, quantity=quantity)
    except _DatabaseDown as down:
        stale = _last_known(client, merchant, sku)
        if stale is None:
            raise down.error from None
        return _for_quantity(stale, quantity)
    if token is not None:
        if len(_local) >= LOCAL_MAX_ENTRIES:
            _local.clear()
        _local[(merchant.pk, sku)] = _Entry(
            result=result,
            encoded=encode(result),
            sources=_sources(merchant.pk, product_ids),
            token=token,
            expires=time.monotonic() + LOCAL_TTL_SECONDS,
        )
    return _for_quantity(result, quantity)


class _DatabaseDown(Exception):
    """The figures had to come from a database that cannot be reached now (`error`)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _from_database(read: Callable[[], T]) -> T:
    """`read()` against the database, unless it is known to be unreachable: then, or when it
    fails to reach it, _DatabaseDown (the caller falls back to the last known answer)."""
    if not db_errors.database_outage.should_try():
        raise _DatabaseDown(OperationalError("The database is unreachable (retried shortly)."))
    try:
        found = read()
    except (OperationalError, InterfaceError) as error:
        if not db_errors.is_unreachable(error):
            raise
        db_errors.database_outage.failed(error)
        raise _DatabaseDown(error) from error
    db_errors.database_outage.recovered()
    return found


def _through_redis(
    client: redis.Redis, merchant: Merchant, sku: str
) -> tuple[tuple[int, ...], selectors.Availability]:
    """(ids of the product and its substitutes, figures for quantity 1) from Redis, or from
    the database stored in Redis."""
    data_prefix = _key(f"data:{merchant.pk}:{sku}:")
    sku_key = _key(f"sku:{merchant.pk}:{sku}")
    merchant_key = _key(f"mgen:{merchant.pk}")
    found = redis_path.script(client, _READ)(
        keys=[sku_key, merchant_key], args=[data_prefix, _key("gen:")]
    )
    if found and found[3]:
        return _ids(found[0], found[4]), _decode(found[3])
    if found and len(found) > 4 and found[4] is not None:
        product_ids = _ids(found[0], found[4])
        generation, merchant_generation = found[1].decode(), found[2].decode()
    else:
        # Unknown here, or its substitutes may have changed: read them first, then their
        # generations, then the figures.
        product_ids = _from_database(lambda: selectors.availability_product_ids(
            merchant=merchant, sku=sku
        ))  # fmt: skip
        *generations, merchant_generation = client.mget(
            [_key(f"gen:{pk}") for pk in product_ids] + [merchant_key]
        )
        generation = ".".join((g or b"0").decode() for g in generations)
        merchant_generation = (merchant_generation or b"0").decode()
    # The generations are read before the database: see the module docstring.
    read = _from_database(lambda: selectors.availability_read(merchant=merchant, sku=sku))
    encoded = encode(read.result)
    pipe = client.pipeline(transaction=False)
    if read.product_ids == product_ids:  # else a group changed meanwhile: store nothing
        subs = ",".join(str(pk) for pk in product_ids[1:])
        pipe.set(sku_key, f"{product_ids[0]}|{subs}|{merchant_generation}", ex=SKU_TTL_SECONDS)
        pipe.set(f"{data_prefix}{generation}:{merchant_generation}", encoded, ex=TTL_SECONDS)
    pipe.set(
        _key(f"last:{merchant.pk}:{sku}"),
        orjson.dumps({"read_at": time.time(), "availability": read.result}),
        ex=settings.STOCKROOM_STALE_AVAILABILITY_SECONDS,
    )
    pipe.execute()
    return read.product_ids, read.result


def _ids(product: bytes, substitutes: bytes | None) -> tuple[int, ...]:
    return (int(product), *(int(pk) for pk in (substitutes or b"").split(b",") if pk))


def _last_known(client: redis.Redis, merchant: Merchant, sku: str) -> selectors.Availability | None:
    """The last answer read from the database, marked stale with its age; None when Redis
    holds none (or cannot be reached)."""
    try:
        raw = client.get(_key(f"last:{merchant.pk}:{sku}"))
    except redis.RedisError as error:
        redis_path.failed(error)
        return None
    if raw is None:
        return None
    kept = orjson.loads(raw)
    return dataclasses.replace(
        _decode(kept["availability"]),
        stale=True,
        age_seconds=max(int(time.time() - kept["read_at"]), 0),
    )


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
