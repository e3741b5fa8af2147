"""What the demo is made of: two merchants, their locations and products, and the people who
sign in. `services.demo_load` turns it into rows and 30 days of history."""

from __future__ import annotations

from dataclasses import dataclass

from apps.locations.models import Location
from apps.merchants.models import Membership

HISTORY_DAYS = 30


@dataclass(frozen=True)
class DemoLocation:
    code: str
    name: str
    kind: str
    address: str
    latitude: float
    longitude: float
    priority: int


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    price: str
    # Units a store sells of it on an average day; online orders pick products in proportion.
    daily_sales: float


@dataclass(frozen=True)
class DemoMerchant:
    code: str
    name: str
    # The first location is the warehouse that receives supplier deliveries, fills online
    # orders (it has the best fulfilment priority) and restocks the others by transfer.
    locations: tuple[DemoLocation, ...]
    products: tuple[DemoProduct, ...]


@dataclass(frozen=True)
class DemoPerson:
    username: str
    password: str
    role: str  # what the landing page and `seed_demo` say about the login
    superuser: bool = False
    # (merchant code, role, location codes: none = every location)
    memberships: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


MERCHANTS = (
    DemoMerchant(
        code="acme",
        name="Acme Outfitters",
        locations=(
            DemoLocation("main-wh", "Main warehouse", Location.Kind.WAREHOUSE,
                         "1 Dock Road, Leeds", 53.7950, -1.5480, 10),
            DemoLocation("soho", "Soho store", Location.Kind.RETAIL_STORE,
                         "12 Carnaby St, London", 51.5130, -0.1390, 20),
            DemoLocation("dark-n1", "Islington dark store", Location.Kind.DARK_STORE,
                         "N1 Hub, London", 51.5380, -0.1030, 30),
        ),
        products=(
            DemoProduct("TEE-BLK-M", "Black tee, M", "19.00", 3.0),
            DemoProduct("TEE-BLK-L", "Black tee, L", "19.00", 2.0),
            DemoProduct("TEE-WHT-M", "White tee, M", "19.00", 1.5),
            DemoProduct("HOOD-GRY-M", "Grey hoodie, M", "49.00", 1.0),
            DemoProduct("HOOD-GRY-L", "Grey hoodie, L", "49.00", 0.7),
            DemoProduct("CAP-NVY", "Navy cap", "15.00", 1.2),
            DemoProduct("SOCK-3PK", "Socks, 3 pack", "9.50", 2.5),
            DemoProduct("JKT-RAIN-M", "Rain jacket, M", "89.00", 0.4),
        ),
    ),
    DemoMerchant(
        code="globex",
        name="Globex Coffee",
        locations=(
            DemoLocation("roastery", "Roastery", Location.Kind.WAREHOUSE,
                         "Unit 4, Bristol", 51.4545, -2.5879, 10),
            DemoLocation("cafe-1", "Harbourside cafe", Location.Kind.RETAIL_STORE,
                         "Harbourside, Bristol", 51.4500, -2.6000, 20),
        ),
        products=(
            DemoProduct("BEAN-ESP-1K", "Espresso beans 1 kg", "24.00", 2.0),
            DemoProduct("BEAN-FLT-250", "Filter beans 250 g", "8.50", 3.0),
            DemoProduct("MUG-LOGO", "Logo mug", "12.00", 0.6),
            DemoProduct("FILTER-V60", "V60 paper filters", "6.00", 1.5),
        ),
    ),
)  # fmt: skip

Role = Membership.Role
PEOPLE = (
    DemoPerson(
        "admin", "stockroom-admin", "Superuser: every merchant", superuser=True,
        memberships=(("acme", Role.OWNER, ()), ("globex", Role.OWNER, ())),
    ),
    DemoPerson(
        "owner", "stockroom-owner", "Owner of Acme Outfitters",
        memberships=(("acme", Role.OWNER, ()),),
    ),
    DemoPerson(
        "manager", "stockroom-manager", "Warehouse manager: Acme, Main warehouse",
        memberships=(("acme", Role.MANAGER, ("main-wh",)),),
    ),
    DemoPerson(
        "viewer", "stockroom-viewer", "Viewer at Acme Outfitters (read-only)",
        memberships=(("acme", Role.VIEWER, ()),),
    ),
)  # fmt: skip
