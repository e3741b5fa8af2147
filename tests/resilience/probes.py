"""Scenarios run in a child Django process against private servers (the test's own settings
point at the shared servers). Usage: python -m tests.resilience.probes <scenario> [args].
Each prints one JSON object on its last line."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import django


def seed(args: argparse.Namespace) -> dict:
    from apps.catalog.models import Product
    from apps.locations.models import Location
    from apps.merchants.models import Merchant
    from tests import factories

    merchant = Merchant.objects.create(code="probe", name="Probe")
    product = Product.objects.create(merchant=merchant, sku="PROBE-1", name="Probe")
    location = Location.objects.create(merchant=merchant, code="main", name="Main")
    level = factories.stock(product, location, args.on_hand)
    return {"merchant": merchant.pk, "product": product.pk, "location": location.pk,
            "level": level.pk}  # fmt: skip


def load(args: argparse.Namespace) -> dict:
    """Reserve and release or commit one unit in a loop from several threads for a while,
    counting what succeeded and what failed because the database went away."""
    from django.db import InterfaceError, OperationalError, close_old_connections

    from apps.catalog.models import Product
    from apps.core.errors import DomainError
    from apps.inventory import services
    from apps.merchants.models import Merchant
    from tests import factories

    merchant = Merchant.objects.get(code="probe")
    product = Product.objects.get(merchant=merchant, sku="PROBE-1")
    counts = {"ok": 0, "database_errors": 0, "refused": 0, "ok_after_errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds
    stop_file = Path(args.until_file) if args.until_file else None

    def running() -> bool:
        return time.monotonic() < deadline and not (stop_file and stop_file.exists())

    def worker(n: int) -> None:
        seen_error = False
        i = 0
        while running():
            i += 1
            try:
                reservation = services.reservation_create(
                    merchant=merchant,
                    lines=[services.ReservationLineRequest(product=product, quantity=1)],
                    actor=None, idempotency_key=factories.key(),
                )  # fmt: skip
                finish = services.reservation_commit if i % 2 else services.reservation_release
                finish(merchant=merchant, reservation_id=reservation.pk, actor=None,
                       idempotency_key=factories.key())  # fmt: skip
                with lock:
                    counts["ok"] += 1
                    counts["ok_after_errors"] += seen_error
                if seen_error and stop_file is not None:
                    stop_file.with_suffix(".recovered").touch()
            except (OperationalError, InterfaceError):
                seen_error = True
                with lock:
                    counts["database_errors"] += 1
                time.sleep(0.05)
            except DomainError:
                with lock:
                    counts["refused"] += 1
            finally:
                close_old_connections()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def race(args: argparse.Namespace) -> dict:
    """Reserve one unit at a time of the given product until refused; count the successes."""
    from apps.catalog.models import Product
    from apps.inventory import services
    from apps.inventory.exceptions import InsufficientStock
    from tests import factories

    product = Product.objects.select_related("merchant").get(pk=args.product)
    reserved = refused = 0
    for _ in range(args.attempts):
        try:
            services.reservation_create(
                merchant=product.merchant,
                lines=[services.ReservationLineRequest(product=product, quantity=1)],
                actor=None, idempotency_key=factories.key(),
            )  # fmt: skip
            reserved += 1
        except InsufficientStock:
            refused += 1
    return {"reserved": reserved, "refused": refused}


def replica(args: argparse.Namespace) -> dict:
    """Writes go to the primary, reads to the replica, read-your-own-write paths to the
    primary. Replay on the replica is paused so the two copies visibly differ."""
    from django.db import connections, transaction

    from apps.catalog.models import Product
    from apps.inventory import services
    from apps.inventory.models import StockLevel
    from apps.merchants.models import Merchant
    from inventory_site.db_router import use_primary
    from tests import factories

    with use_primary():  # the seed reads back what it wrote
        seeded = seed(argparse.Namespace(on_hand=10))
    result: dict = {"seeded": seeded}

    def routed_on_hand() -> int:
        return StockLevel.objects.get(pk=seeded["level"]).on_hand

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the replica catches up with the seed
        try:
            if routed_on_hand() == 10:
                break
        except StockLevel.DoesNotExist:
            pass
        time.sleep(0.1)
    result["replica_caught_up"] = routed_on_hand()
    result["read_alias"] = StockLevel.objects.all().db
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        result["replica_in_recovery"] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_wal_replay_pause()")

    merchant = Merchant.objects.get(pk=seeded["merchant"])
    product = Product.objects.get(pk=seeded["product"])
    change = services.stock_receive(
        merchant=merchant,
        lines=[services.StockLine(product=product, location=product.merchant.locations.get(),
                                  quantity=5)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    result["write_returned"] = change.entries[0].on_hand_after
    time.sleep(0.5)
    result["read_from_replica_while_paused"] = routed_on_hand()
    with use_primary():
        result["read_with_use_primary"] = routed_on_hand()
    with transaction.atomic():
        result["read_inside_transaction"] = routed_on_hand()
        result["alias_inside_transaction"] = StockLevel.objects.all().db

    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and routed_on_hand() != 15:
        time.sleep(0.1)
    result["read_from_replica_after_resume"] = routed_on_hand()
    return result


def replica_down(args: argparse.Namespace) -> dict:
    """With the replica stopped, routed reads fall back to the primary; /readyz stays ready."""
    from django.test import Client

    from apps.inventory.models import StockLevel
    from inventory_site.db_router import PrimaryReplicaRouter

    level = StockLevel.objects.get()  # routed: the replica is found away, the primary answers
    ready = Client().get("/readyz")
    return {
        "on_hand": level.on_hand,
        "read_alias": PrimaryReplicaRouter().db_for_read(StockLevel),
        "ready_status": ready.status_code,
        "replica_check": ready.json()["checks"]["replica"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="scenario", required=True)
    seed_parser = sub.add_parser("seed")
    seed_parser.add_argument("--on-hand", type=int, default=1000)
    load_parser = sub.add_parser("load")
    load_parser.add_argument("--seconds", type=float, default=10)
    load_parser.add_argument("--threads", type=int, default=4)
    load_parser.add_argument("--until-file", default=None, help="Stop early once it exists.")
    sub.add_parser("replica")
    sub.add_parser("replica-down")
    race_parser = sub.add_parser("race")
    race_parser.add_argument("--product", type=int, required=True)
    race_parser.add_argument("--attempts", type=int, default=20)
    args = parser.parse_args()
    django.setup()
    scenario = {
        "seed": seed,
        "load": load,
        "replica": replica,
        "race": race,
        "replica-down": replica_down,
    }[args.scenario]
    print(json.dumps(scenario(args)))


if __name__ == "__main__":
    main()
