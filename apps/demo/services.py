"""Load the demo: its people, its merchants and 30 days of their history.

Every unit moves through the inventory services (receipts, sales, online orders, transfers,
counts, adjustments, damage, returns), recorded at past times with `recorded_at`, so the
ledger replays to the balances and the charts, top movers and stock-as-of pages have a month
to show. Daily snapshots are taken for those days and the month ends with a few low-stock
alerts; today an order is reserved and a transfer is on its way.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.alerts.services import low_stock_scan
from apps.catalog.models import Product
from apps.demo.passwords import demo_password_hash
from apps.demo.story import HISTORY_DAYS, MERCHANTS, PEOPLE, DemoMerchant
from apps.inventory import services as stock
from apps.inventory.models import Source, StockLevel, Transfer
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant
from apps.reports.services import snapshot_take

# Level settings: the warehouse holds the bulk, the stores a few days of sales.
WAREHOUSE_SETTINGS = {"safety_stock": 5, "low_stock_threshold": 20, "reorder_point": 40,
                      "max_level": 400}  # fmt: skip
STORE_SETTINGS = {"safety_stock": 2, "low_stock_threshold": 6, "reorder_point": 10, "max_level": 80}
STORE_TARGET = 30  # a store is restocked up to this many units of a product
RESTOCK_AT = 14  # ... when it has this many or fewer, counting those on their way
WAREHOUSE_TARGET = 220  # supplier deliveries top the warehouse up to this
TRANSFER_EVERY_DAYS = 3
DELIVERY_EVERY_DAYS = 7


@dataclass
class DemoLoadResult:
    users_created: list[str] = field(default_factory=list)
    merchants_created: list[str] = field(default_factory=list)
    snapshot_days: int = 0


def demo_load() -> DemoLoadResult:
    """Create whatever of the demo is missing. Running it again adds nothing: a merchant that
    exists keeps its data (its history is written once, when it is created), and a user that
    exists keeps its password, flags and memberships."""
    result = DemoLoadResult()
    users = {
        user.username: user
        for user in User.objects.filter(username__in=[person.username for person in PEOPLE])
    }
    for person in PEOPLE:
        if person.username not in users:
            users[person.username] = User.objects.create(
                username=person.username,
                is_staff=True,
                is_superuser=person.superuser,
                password=demo_password_hash(person),  # hashed only for a new user: it is slow
            )
            result.users_created.append(person.username)
    for spec in MERCHANTS:
        with transaction.atomic():
            merchant, created = Merchant.objects.get_or_create(
                code=spec.code, defaults={"name": spec.name}
            )
            if created:
                _History(spec, merchant, users).play()
                result.merchants_created.append(spec.code)
    _add_memberships(users, result)
    if result.merchants_created:
        first = timezone.now().date() - timedelta(days=HISTORY_DAYS)
        for offset in range(HISTORY_DAYS):
            snapshot_take(day=first + timedelta(days=offset))
        result.snapshot_days = HISTORY_DAYS
        # The alerts of what the month left low, without waiting for its events to publish.
        low_stock_scan()
    return result


def _add_memberships(users: dict[str, User], result: DemoLoadResult) -> None:
    """Memberships of the people or merchants created by this run (an existing person keeps
    the access it was given, or had taken away, at an existing merchant)."""
    merchants = {m.code: m for m in Merchant.objects.filter(code__in=[s.code for s in MERCHANTS])}
    for person in PEOPLE:
        for code, role, location_codes in person.memberships:
            if person.username not in result.users_created and code not in (
                result.merchants_created
            ):
                continue
            membership, created = Membership.objects.get_or_create(
                user=users[person.username], merchant=merchants[code], defaults={"role": role}
            )
            if created and location_codes:
                membership.locations.set(
                    Location.objects.filter(merchant=merchants[code], code__in=location_codes)
                )


class _History:
    """One merchant's month, played day by day in time order through the stock services. The
    figures come from a random generator seeded with the merchant's code: every load tells the
    same story, ending yesterday."""

    def __init__(self, spec: DemoMerchant, merchant: Merchant, users: dict[str, User]) -> None:
        self.merchant = merchant
        self.random = random.Random(spec.code)
        self.first_day = timezone.now().date() - timedelta(days=HISTORY_DAYS)
        self.locations = [
            Location.objects.create(
                merchant=merchant, code=loc.code, name=loc.name, kind=loc.kind,
                address=loc.address, priority=loc.priority,
                latitude=Decimal(str(loc.latitude)), longitude=Decimal(str(loc.longitude)),
            )
            for loc in spec.locations
        ]  # fmt: skip
        self.warehouse, self.stores = self.locations[0], self.locations[1:]
        self.products = [
            Product.objects.create(
                merchant=merchant, sku=p.sku, name=p.name, price=Decimal(p.price)
            )
            for p in spec.products
        ]
        self.daily_sales = {
            product.pk: p.daily_sales
            for product, p in zip(self.products, spec.products, strict=True)
        }
        # People act on the stock they are responsible for; the superuser covers a merchant
        # that has no demo staff of its own.
        members = {
            role: users[person.username]
            for person in PEOPLE
            for code, role, _ in person.memberships
            if code == spec.code and not person.superuser
        }
        self.owner = members.get(Membership.Role.OWNER, users["admin"])
        self.manager = members.get(Membership.Role.MANAGER, self.owner)
        self.orders = 0
        self.transfers = 0
        self.arriving: dict[int, list[Transfer]] = defaultdict(list)  # by day

    # --- helpers ---------------------------------------------------------------------------

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(
            self.first_day + timedelta(days=day), time(hour, minute), tzinfo=UTC
        )

    def key(self, *parts: object) -> str:
        return ":".join(["demo", self.merchant.code, *(str(part) for part in parts)])

    def levels(self) -> dict[tuple[int, int], StockLevel]:
        """The merchant's levels as they are now (read only: the services change them)."""
        return {
            (level.product_id, level.location_id): level
            for level in StockLevel.objects.filter(merchant=self.merchant)
        }

    def next_transfer_reference(self) -> str:
        self.transfers += 1
        return f"TR-{1000 + self.transfers}"

    def next_order_reference(self) -> str:
        self.orders += 1
        return f"WEB-{4000 + self.orders}"

    def pick_product(self) -> Product:
        weights = [self.daily_sales[p.pk] for p in self.products]
        return self.random.choices(self.products, weights=weights)[0]

    # --- the story -------------------------------------------------------------------------

    def play(self) -> None:
        with stock.recorded_at(self.at(0, 8)):
            self.open()
        for day in range(1, HISTORY_DAYS):
            self.receive_transfers(day)
            if day % DELIVERY_EVERY_DAYS == 0:
                self.supplier_delivery(day)
            if day % TRANSFER_EVERY_DAYS == 2:
                self.restock_stores(day)
            self.occasional(day)
            self.online_orders(day)
            self.store_sales(day)
        self.today()

    def open(self) -> None:
        """Day one: settings for every level, then the opening delivery everywhere."""
        for location in self.locations:
            settings = WAREHOUSE_SETTINGS if location == self.warehouse else STORE_SETTINGS
            for product in self.products:
                stock.stock_level_configure(
                    merchant=self.merchant, product=product, location=location,
                    actor=self.owner, idempotency_key=self.key("configure", product.pk, location.pk),
                    source=Source.ADMIN, **settings,
                )  # fmt: skip
        lines = [
            stock.StockLine(
                product=product,
                location=location,
                quantity=(WAREHOUSE_TARGET if location == self.warehouse else STORE_TARGET)
                - self.random.randint(0, 8),
            )
            for location in self.locations
            for product in self.products
        ]
        stock.stock_receive(
            merchant=self.merchant, lines=lines, actor=self.manager,
            idempotency_key=self.key("opening"), source=Source.SUPPLIER, reference="PO-1000",
        )  # fmt: skip

    def supplier_delivery(self, day: int) -> None:
        """The weekly delivery tops the warehouse up."""
        levels = self.levels()
        lines = []
        for product in self.products:
            level = levels[(product.pk, self.warehouse.pk)]
            if level.on_hand < WAREHOUSE_TARGET:
                lines.append(
                    stock.StockLine(
                        product=product,
                        location=self.warehouse,
                        quantity=WAREHOUSE_TARGET - level.on_hand,
                    )
                )
        if lines:
            with stock.recorded_at(self.at(day, 8, 15)):
                stock.stock_receive(
                    merchant=self.merchant, lines=lines, actor=self.manager,
                    idempotency_key=self.key("delivery", day), source=Source.SUPPLIER,
                    reference=f"PO-{1000 + day // DELIVERY_EVERY_DAYS}",
                )  # fmt: skip

    def restock_stores(self, day: int) -> None:
        """Every few days each store running short of a product gets it from the warehouse;
        the van arrives the next morning."""
        levels = self.levels()
        for number, store in enumerate(self.stores):
            lines = []
            for product in self.products:
                level = levels[(product.pk, store.pk)]
                expected = level.on_hand + level.in_transit
                if expected > RESTOCK_AT:
                    continue
                spare = levels[(product.pk, self.warehouse.pk)]
                quantity = min(
                    STORE_TARGET - expected, spare.on_hand - spare.reserved - spare.safety_stock
                )
                if quantity > 0:
                    lines.append(stock.TransferLineRequest(product=product, quantity=quantity))
            if not lines:
                continue
            reference = self.next_transfer_reference()
            with stock.recorded_at(self.at(day, 7, 30 + number)):
                transfer = stock.transfer_create(
                    merchant=self.merchant, source_location=self.warehouse,
                    destination_location=store, lines=lines, actor=self.manager,
                    idempotency_key=self.key("transfer", reference), reference=reference,
                )  # fmt: skip
                stock.transfer_ship(
                    merchant=self.merchant, transfer_id=transfer.pk, actor=self.manager,
                    idempotency_key=self.key("transfer", reference, "ship"), source=Source.ADMIN,
                )  # fmt: skip
            self.arriving[day + 1].append(transfer)

    def receive_transfers(self, day: int) -> None:
        for transfer in self.arriving.pop(day, []):
            with stock.recorded_at(self.at(day, 9, 10)):
                stock.transfer_receive(
                    merchant=self.merchant, transfer_id=transfer.pk, actor=self.owner,
                    idempotency_key=self.key("transfer", transfer.reference, "receive"),
                    source=Source.ADMIN,
                )  # fmt: skip

    def online_orders(self, day: int) -> None:
        """One to four web orders a day, reserved (allocated by location priority) and then
        paid; now and then a customer cancels, or never pays and the reservation expires."""
        times = sorted(
            (self.random.randint(9, 17), self.random.randint(0, 40))
            for _ in range(self.random.randint(1, 4))
        )
        for hour, minute in times:
            order_ref = self.next_order_reference()
            lines = {}
            for _ in range(self.random.choice((1, 1, 2))):
                product = self.pick_product()
                lines[product] = lines.get(product, 0) + self.random.randint(1, 2)
            with stock.recorded_at(self.at(day, hour, minute)):
                reservation = stock.reservation_create(
                    merchant=self.merchant,
                    lines=[
                        stock.ReservationLineRequest(product=product, quantity=quantity)
                        for product, quantity in lines.items()
                    ],
                    actor=None, idempotency_key=self.key(order_ref, "reserve"),
                    ttl_seconds=900, order_ref=order_ref, source=Source.API,
                )  # fmt: skip
            if self.orders % 11 == 0:
                stock.reservation_expire(
                    reservation_id=reservation.pk,
                    now=reservation.expires_at + timedelta(seconds=20),
                )
                continue
            step = stock.reservation_release if self.orders % 7 == 0 else stock.reservation_commit
            with stock.recorded_at(self.at(day, hour, minute + self.random.randint(2, 14))):
                step(
                    merchant=self.merchant, reservation_id=reservation.pk, actor=None,
                    idempotency_key=self.key(order_ref, step.__name__), source=Source.API,
                )  # fmt: skip

    def store_sales(self, day: int) -> None:
        """Each store's till sends the day's sales in the evening."""
        levels = self.levels()
        for store in self.stores:
            lines = []
            for product in self.products:
                level = levels[(product.pk, store.pk)]
                wanted = round(self.random.expovariate(1 / self.daily_sales[product.pk]))
                sold = min(wanted, level.on_hand - level.reserved)
                if sold > 0:
                    lines.append(stock.StockLine(product=product, location=store, quantity=sold))
            if lines:
                with stock.recorded_at(self.at(day, 19, 5)):
                    stock.stock_ship(
                        merchant=self.merchant, lines=lines, actor=None,
                        idempotency_key=self.key("pos", store.code, day), source=Source.POS,
                        reference=f"POS-{store.code}-{self.at(day, 0):%Y%m%d}",
                    )  # fmt: skip

    def occasional(self, day: int) -> None:
        """What a month also brings: counts, a damaged carton, a find, a return."""
        store = self.stores[0]
        if day in (10, 24):
            location = store if day == 10 else self.warehouse
            levels = self.levels()
            lines = []
            for product in self.products[:4]:
                level = levels[(product.pk, location.pk)]
                variance = self.random.choice((-1, 0, 0, 1))
                lines.append(
                    stock.StockLine(
                        product=product,
                        location=location,
                        quantity=max(level.on_hand + variance, level.reserved),
                    )
                )
            with stock.recorded_at(self.at(day, 7, 0)):
                stock.stock_count(
                    merchant=self.merchant, lines=lines, actor=self.manager,
                    idempotency_key=self.key("count", day), source=Source.ADMIN,
                    reference=f"CC-{day:02d}",
                )  # fmt: skip
        if day == 12:
            with stock.recorded_at(self.at(day, 11, 20)):
                stock.stock_damage(
                    merchant=self.merchant, actor=self.manager, source=Source.ADMIN,
                    lines=[stock.StockLine(product=self.products[1], location=self.warehouse,
                                           quantity=2)],
                    idempotency_key=self.key("damage", day), note="Carton crushed in delivery",
                )  # fmt: skip
        if day == 13:
            with stock.recorded_at(self.at(day, 11, 0)):
                stock.stock_write_off(
                    merchant=self.merchant, actor=self.manager, source=Source.ADMIN,
                    lines=[stock.StockLine(product=self.products[1], location=self.warehouse,
                                           quantity=2)],
                    idempotency_key=self.key("write-off", day), note="Disposed of",
                )  # fmt: skip
        if day == 16:
            with stock.recorded_at(self.at(day, 12, 30)):
                stock.stock_return(
                    merchant=self.merchant, actor=None, source=Source.POS,
                    lines=[stock.StockLine(product=self.products[0], location=store, quantity=1)],
                    idempotency_key=self.key("return", day), reference="RET-1",
                )  # fmt: skip
        if day == 18:
            with stock.recorded_at(self.at(day, 15, 45)):
                stock.stock_adjust(
                    merchant=self.merchant, actor=self.owner, source=Source.ADMIN,
                    lines=[stock.StockLine(product=self.products[-3], location=store, quantity=2)],
                    reason="Found in the back room", idempotency_key=self.key("adjust", day),
                )  # fmt: skip

    def today(self) -> None:
        """At the present time: an order waiting for payment and a transfer on the road."""
        stock.reservation_create(
            merchant=self.merchant,
            lines=[stock.ReservationLineRequest(product=self.products[0], quantity=3)],
            actor=None, idempotency_key=self.key("reservation"), order_ref=self.next_order_reference(),
            ttl_seconds=3600, source=Source.API,
        )  # fmt: skip
        transfer = stock.transfer_create(
            merchant=self.merchant, source_location=self.warehouse,
            destination_location=self.stores[0],
            lines=[stock.TransferLineRequest(product=self.products[1], quantity=4)],
            actor=self.manager, idempotency_key=self.key("transfer"),
            reference=self.next_transfer_reference(),
        )  # fmt: skip
        stock.transfer_ship(
            merchant=self.merchant,
            transfer_id=transfer.pk,
            actor=self.manager,
            idempotency_key=self.key("transfer", "ship"),
            source=Source.ADMIN,
        )
