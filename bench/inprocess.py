"""The service layer called in-process, without HTTP: threads (one database connection each)
calling `reservation_create` or the availability read the API uses. Reads one job (JSON) on
stdin and prints the Recorder's result."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid

import django


def main() -> None:
    job = json.load(sys.stdin)
    django.setup()
    from django.db import connection

    from apps.catalog.models import Product
    from apps.inventory import services
    from apps.inventory.availability_cache import availability as availability_read
    from apps.inventory.exceptions import InsufficientStock
    from apps.inventory.models import Source
    from apps.locations.models import Location
    from apps.merchants.models import Merchant
    from bench.recorder import Recorder

    merchant = Merchant.objects.get(pk=job["merchant_id"])
    products = {p.sku: p for p in Product.objects.filter(merchant=merchant, sku__in=job["skus"])}
    locations = {
        loc.code: loc
        for loc in Location.objects.filter(merchant=merchant, code__in=job.get("locations") or [])
    }
    recorder = Recorder(float(job["seconds"]), job.get("max_requests"))
    lock = threading.Lock()

    def reserve(rng: random.Random) -> int:
        line = services.ReservationLineRequest(
            product=products[rng.choice(job["skus"])],
            quantity=rng.randint(job.get("quantity_min", 1), job.get("quantity_max", 1)),
            location=locations[rng.choice(job["locations"])] if job.get("locations") else None,
        )
        try:
            services.reservation_create(
                merchant=merchant,
                lines=[line],
                actor=None,
                idempotency_key=str(uuid.uuid4()),
                ttl_seconds=job.get("ttl_seconds", 900),
                source=Source.API,
            )
        except InsufficientStock:
            return 409
        return 201

    def read(rng: random.Random) -> int:
        availability_read(merchant=merchant, sku=rng.choice(job["read_skus"]))
        return 200

    def pick(rng: random.Random):
        """(operation, kind) of the next call: `mixed` reads with probability read_share."""
        kind = job["kind"]
        if kind == "mixed":
            kind = "availability" if rng.random() < job.get("read_share", 0.9) else "reserve"
        return (reserve, "write") if kind == "reserve" else (read, "read")

    def worker(index: int) -> None:
        rng = random.Random(index)
        try:
            while True:
                with lock:
                    if not recorder.take():
                        return
                operation, kind = pick(rng)
                began = time.perf_counter()
                status = operation(rng)
                with lock:
                    recorder.record(kind, status, began)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(job["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump(recorder.result(), sys.stdout)


if __name__ == "__main__":
    main()
