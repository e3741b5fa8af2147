"""Load demo data: two merchants, their locations and products, stock received through the
services, a reservation, a transfer in transit, and users. Safe to run again."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.catalog.models import Product
from apps.inventory import services
from apps.inventory.models import Source
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "stockroom-admin"
MANAGER_USERNAME = "manager"
MANAGER_PASSWORD = "stockroom-manager"

MERCHANTS = {
    "acme": {
        "name": "Acme Outfitters",
        "locations": [
            (
                "main-wh",
                "Main warehouse",
                Location.Kind.WAREHOUSE,
                "1 Dock Road, Leeds",
                53.7950,
                -1.5480,
                10,
            ),
            (
                "soho",
                "Soho store",
                Location.Kind.RETAIL_STORE,
                "12 Carnaby St, London",
                51.5130,
                -0.1390,
                20,
            ),
            (
                "dark-n1",
                "Islington dark store",
                Location.Kind.DARK_STORE,
                "N1 Hub, London",
                51.5380,
                -0.1030,
                30,
            ),
        ],
        "products": [
            ("TEE-BLK-M", "Black tee, M", "19.00"),
            ("TEE-BLK-L", "Black tee, L", "19.00"),
            ("TEE-WHT-M", "White tee, M", "19.00"),
            ("HOOD-GRY-M", "Grey hoodie, M", "49.00"),
            ("HOOD-GRY-L", "Grey hoodie, L", "49.00"),
            ("CAP-NVY", "Navy cap", "15.00"),
            ("SOCK-3PK", "Socks, 3 pack", "9.50"),
            ("JKT-RAIN-M", "Rain jacket, M", "89.00"),
        ],
    },
    "globex": {
        "name": "Globex Coffee",
        "locations": [
            (
                "roastery",
                "Roastery",
                Location.Kind.WAREHOUSE,
                "Unit 4, Bristol",
                51.4545,
                -2.5879,
                10,
            ),
            (
                "cafe-1",
                "Harbourside cafe",
                Location.Kind.RETAIL_STORE,
                "Harbourside, Bristol",
                51.4500,
                -2.6000,
                20,
            ),
        ],
        "products": [
            ("BEAN-ESP-1K", "Espresso beans 1 kg", "24.00"),
            ("BEAN-FLT-250", "Filter beans 250 g", "8.50"),
            ("MUG-LOGO", "Logo mug", "12.00"),
            ("FILTER-V60", "V60 paper filters", "6.00"),
        ],
    },
}


class Command(BaseCommand):
    help = "Create demo merchants, locations, products, stock and users (idempotent)."

    def handle(self, *args, **options):
        admin = self._user(ADMIN_USERNAME, ADMIN_PASSWORD, superuser=True)
        manager = self._user(MANAGER_USERNAME, MANAGER_PASSWORD, superuser=False)
        for code, spec in MERCHANTS.items():
            self._merchant(code, spec, admin, manager)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Superuser:          {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        self.stdout.write(
            f"  Warehouse manager:  {MANAGER_USERNAME} / {MANAGER_PASSWORD} (Acme, Main warehouse)"
        )

    def _user(self, username: str, password: str, *, superuser: bool) -> User:
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = superuser
        user.set_password(password)
        user.save()
        return user

    @transaction.atomic
    def _merchant(self, code: str, spec: dict, admin: User, manager: User) -> None:
        merchant, created = Merchant.objects.get_or_create(
            code=code, defaults={"name": spec["name"]}
        )
        Membership.objects.get_or_create(
            user=admin, merchant=merchant, defaults={"role": Membership.Role.OWNER}
        )
        locations = []
        for loc_code, name, kind, address, lat, lon, priority in spec["locations"]:
            location, _ = Location.objects.get_or_create(
                merchant=merchant,
                code=loc_code,
                defaults={
                    "name": name, "kind": kind, "address": address, "priority": priority,
                    "latitude": Decimal(str(lat)), "longitude": Decimal(str(lon)),
                },
            )  # fmt: skip
            locations.append(location)
        products = []
        for sku, name, price in spec["products"]:
            product, _ = Product.objects.get_or_create(
                merchant=merchant, sku=sku, defaults={"name": name, "price": Decimal(price)}
            )
            products.append(product)
        if code == "acme":
            membership, _ = Membership.objects.get_or_create(
                user=manager, merchant=merchant, defaults={"role": Membership.Role.MANAGER}
            )
            membership.locations.set([locations[0]])
        if not created:
            return
        key = f"demo:{code}"
        lines = [
            services.StockLine(product=p, location=loc, quantity=10 + (i * 7 + j * 5) % 40)
            for i, p in enumerate(products)
            for j, loc in enumerate(locations)
        ]
        services.stock_receive(
            merchant=merchant, lines=lines, actor=admin, idempotency_key=f"{key}:receive",
            source=Source.SUPPLIER, reference="PO-1001",
        )  # fmt: skip
        for i, product in enumerate(products):
            for location in locations:
                services.stock_level_configure(
                    merchant=merchant, product=product, location=location, actor=admin,
                    idempotency_key=f"{key}:configure:{product.pk}:{location.pk}",
                    safety_stock=2, low_stock_threshold=8 + i % 5, reorder_point=12, max_level=200,
                )  # fmt: skip
        services.reservation_create(
            merchant=merchant,
            lines=[services.ReservationLineRequest(product=products[0], quantity=3)],
            actor=admin, idempotency_key=f"{key}:reservation", order_ref="WEB-5001", ttl_seconds=3600,
        )  # fmt: skip
        transfer = services.transfer_create(
            merchant=merchant, source_location=locations[0], destination_location=locations[1],
            lines=[services.TransferLineRequest(product=products[1], quantity=4)], actor=admin,
            idempotency_key=f"{key}:transfer", reference="TR-0001",
        )  # fmt: skip
        services.transfer_ship(
            merchant=merchant,
            transfer_id=transfer.pk,
            actor=admin,
            idempotency_key=f"{key}:transfer:ship",
        )
