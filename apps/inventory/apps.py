from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "apps.inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.catalog.services import product_changed, product_deleting, substitutes_changed
        from apps.core.schedule import Periodic, periodic_register
        from apps.inventory.services import references, reservation_expire_due
        from apps.locations.services import location_changed, location_deleting

        product_changed.connect(references.product_availability_forget)
        product_deleting.connect(references.product_levels_delete)
        location_deleting.connect(references.location_levels_delete)
        location_changed.connect(references.location_availability_forget)
        substitutes_changed.connect(references.substitutes_availability_forget)
        periodic_register(
            Periodic(
                name="Expire due reservations",
                task="events.reservations_expire_due",
                run=reservation_expire_due,
                every_seconds=30,
                description="Releases the stock held by reservations past their TTL.",
            )
        )
