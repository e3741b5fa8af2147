"""Benchmark data: one merchant with an API key, products, locations and stock, created through
the product's own services (stock only ever arrives through `stock_receive`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

from apps.apikeys.services import api_key_create
from apps.catalog.models import Product
from apps.inventory import services
from apps.locations.models import Location
from apps.merchants.models import Merchant

# Tables emptied before a run: everything the product writes, never Django's own bookkeeping.
RESET_APPS = (
    "accounts", "merchants", "catalog", "locations", "inventory", "apikeys", "feeds",
    "events", "alerts", "webhooks",
)  # fmt: skip
RECEIVE_BATCH = 10_000
# Names of the catalog's SKUs and locations by index (printf formats: the Lua scripts of
# bench/lua/ build the same names).
SKU_FORMAT = "SKU-%07d"
LOCATION_FORMAT = "loc-%03d"


@dataclass
class Catalog:
    merchant: Merchant
    token: str
    skus: list[str]
    locations: list[str]
    product_ids: list[int]
    location_ids: list[int]


def prepare_database() -> None:
    """Create the benchmark database when it does not exist yet, and migrate it."""
    import psycopg
    from django.core.management import call_command

    settings = connection.settings_dict
    if settings["ENGINE"].endswith("postgresql"):
        params = {
            "host": settings.get("HOST") or "127.0.0.1",
            "port": settings.get("PORT") or 5432,
            "user": settings.get("USER") or None,
            "password": settings.get("PASSWORD") or None,
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]
            ).fetchone()
            if not exists:
                admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    call_command("migrate", interactive=False, verbosity=0)


def reset() -> None:
    """Empty the product's tables in this (benchmark-only) database, and the deployment's keys
    in its Redis db (cached availability and rate budgets would otherwise outlive the rows
    they describe: ids start again at 1)."""
    from django.apps import apps

    tables = [
        model._meta.db_table
        for label in RESET_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{settings.STOCKROOM_REDIS_PREFIX}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


def merchant_with_key(code: str) -> tuple[Merchant, str]:
    merchant = Merchant.objects.create(code=code, name=f"Benchmark {code}")
    _, token = api_key_create(merchant=merchant, name="benchmark")
    return merchant, token


def catalog(
    code: str, *, products: int, locations: int, on_hand: int, stock: bool = True
) -> Catalog:
    """`products` x `locations` stock levels of `on_hand` units each (received through the
    stock service in batches of 10,000 lines); `stock=False` creates no stock level."""
    merchant, token = merchant_with_key(code)
    created_locations = Location.objects.bulk_create(
        Location(merchant=merchant, code=LOCATION_FORMAT % i, name=f"Location {i}", priority=i)
        for i in range(locations)
    )
    created_products = []
    for start in range(0, products, 20_000):
        created_products += Product.objects.bulk_create(
            Product(merchant=merchant, sku=SKU_FORMAT % i, name=f"Product {i}")
            for i in range(start, min(start + 20_000, products))
        )
    if stock:
        lines = [
            services.StockLine(product=product, location=location, quantity=on_hand)
            for product in created_products
            for location in created_locations
        ]
        for start in range(0, len(lines), RECEIVE_BATCH):
            services.stock_receive(
                merchant=merchant,
                lines=lines[start : start + RECEIVE_BATCH],
                actor=None,
                idempotency_key=str(uuid.uuid4()),
            )
    return Catalog(
        merchant=merchant,
        token=token,
        skus=[p.sku for p in created_products],
        locations=[loc.code for loc in created_locations],
        product_ids=[p.pk for p in created_products],
        location_ids=[loc.pk for loc in created_locations],
    )


def split_into_buckets(catalog: Catalog, buckets: int) -> None:
    """Turn stock buckets on for every level of the catalog, through the settings service."""
    from apps.catalog.models import Product as ProductModel
    from apps.locations.models import Location as LocationModel

    for product in ProductModel.objects.filter(pk__in=catalog.product_ids):
        for location in LocationModel.objects.filter(pk__in=catalog.location_ids):
            services.stock_level_configure(
                merchant=catalog.merchant,
                product=product,
                location=location,
                actor=None,
                idempotency_key=str(uuid.uuid4()),
                bucket_count=buckets,
            )
