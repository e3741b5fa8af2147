"""Stock levels, the ledger, reservations and transfers in the admin.

Quantities are never editable here: every change goes through `admin_views`, which calls the
inventory services with the logged-in user as the actor."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import path, reverse

from apps.core.admin_tools import CsvExportMixin, EstimatedCountPaginator
from apps.inventory import admin_views
from apps.inventory.admin_display import (
    UUID_IN_TEXT,
    ActorFilter,
    LastSoldFilter,
    ReadOnlyInline,
    ScopedLocationFilter,
    ScopedMerchantFilter,
    StockStatusFilter,
    actor_label,
    ledger_change,
    ledger_url,
    location_label,
    movements_table,
    short_uuid,
    stock_badge,
    with_hover,
)
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    ReservationLine,
    ReservationReturn,
    StockLevel,
    Transfer,
    TransferLine,
)
from apps.inventory.selectors import reservation_status_q
from apps.merchants.admin_scoping import (
    ScopedAdminMixin,
    access_for,
    reservations_visible,
)

# --- Stock levels ------------------------------------------------------------------------


@admin.register(StockLevel)
class StockLevelAdmin(CsvExportMixin, ScopedAdminMixin, admin.ModelAdmin):
    location_fields = ("location_id",)
    change_role = None  # quantities change only through the service-backed pages
    allow_add = False
    list_display = (
        "sku", "product_name", "location_code", "on_hand", "reserved", "available_units",
        "damaged", "in_transit", "version", "status_badge", "last_movement",
    )  # fmt: skip
    list_select_related = ("product", "location")
    list_filter = (
        ("merchant", ScopedMerchantFilter),
        ("location", ScopedLocationFilter),
        StockStatusFilter,
        LastSoldFilter,
        "location__kind",
        ("updated_at", admin.DateFieldListFilter),
    )
    search_fields = ("^product__sku", "product__name", "=product__barcode")
    search_help_text = "SKU (prefix), product name or barcode."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    actions = ["count_selected", "export_selected_csv"]
    stock_actions = ("count_selected",)
    fields = (
        "product", "location", "merchant", "on_hand", "reserved", "available_units", "damaged",
        "in_transit", "safety_stock", "low_stock_threshold", "reorder_point", "max_level",
        "bucket_count", "units_in_buckets", "version", "last_received_at", "last_sold_at",
        "updated_at",
    )  # fmt: skip
    readonly_fields = ("available_units", "units_in_buckets")
    change_form_template = "admin/inventory/stocklevel/change_form.html"
    csv_filename = "stock"
    csv_fields = (
        ("merchant", "merchant__code"), ("sku", "product__sku"), ("product", "product__name"),
        ("location", "location__code"), ("on_hand", "on_hand"), ("reserved", "reserved"),
        ("damaged", "damaged"), ("in_transit", "in_transit"), ("safety_stock", "safety_stock"),
        ("low_stock_threshold", "low_stock_threshold"), ("reorder_point", "reorder_point"),
        ("max_level", "max_level"), ("version", "version"), ("updated_at", "updated_at"),
        ("last_received_at", "last_received_at"), ("last_sold_at", "last_sold_at"),
    )  # fmt: skip

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, level: StockLevel) -> str:
        return level.product.sku

    @admin.display(description="Product")
    def product_name(self, level: StockLevel) -> str:
        return level.product.name

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, level: StockLevel) -> str:
        return level.location.code

    @admin.display(description="Available")
    def available_units(self, level: StockLevel) -> int:
        return level.available

    @admin.display(description="Free in buckets")
    def units_in_buckets(self, level: StockLevel) -> int:
        return level.in_buckets

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockLevel]:
        # Free bucket units are counted in `reserved` and yet available.
        return super().get_queryset(request).with_buckets()

    @admin.display(description="Last movement", ordering="updated_at")
    def last_movement(self, level: StockLevel):
        return level.updated_at

    @admin.display(description="Status")
    def status_badge(self, level: StockLevel) -> str:
        return stock_badge(level)

    def get_urls(self):
        def view(function, **kwargs):
            return self.admin_site.admin_view(
                lambda request, **more: function(self, request, **kwargs, **more)
            )

        operations = [
            path(f"{slug}/", view(admin_views.stock_operation_view, slug=slug),
                 name=f"inventory_stocklevel_{slug}")
            for slug in admin_views.OPERATIONS
        ]  # fmt: skip
        return [
            *operations,
            path("count/", view(admin_views.count_view), name="inventory_stocklevel_count"),
            path(
                "<path:object_id>/settings/",
                view(admin_views.level_settings_view),
                name="inventory_stocklevel_settings",
            ),
            *super().get_urls(),
        ]

    def changelist_links(self, request):
        if not access_for(request.user).changes_any_stock:
            return []
        return [
            ("Receive", reverse("admin:inventory_stocklevel_receive")),
            ("Adjust", reverse("admin:inventory_stocklevel_adjust")),
            ("Mark damaged", reverse("admin:inventory_stocklevel_damage")),
            ("Write off", reverse("admin:inventory_stocklevel_write_off")),
            ("Import counts", reverse("reports:import_upload", args=["counts"])),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        level = (
            self.get_queryset(request)
            .select_related("product", "location")
            .filter(pk=object_id if str(object_id).isdigit() else None)
            .first()
        )
        extra_context = dict(extra_context or {})
        if level is not None:
            extra_context.update(
                subtitle=f"{level.product.sku} at {level.location.code}",
                can_change_stock=access_for(request.user).changes_stock_at(level.location),
                stockroom_panels=[
                    (
                        "Recent movements",
                        movements_table(
                            LedgerEntry.objects.filter(stock_level=level),
                            ledger_url(stock_level__id__exact=level.pk),
                        ),
                    )
                ],
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Count selected stock levels")
    def count_selected(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:500])
        return redirect(f"{reverse('admin:inventory_stocklevel_count')}?levels={ids}")


# --- Ledger: read-only everywhere ---------------------------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(CsvExportMixin, ScopedAdminMixin, admin.ModelAdmin):
    location_fields = ("location_id",)
    change_role = None
    allow_add = allow_delete = False
    # The four deltas share one column (only those that moved): the list fits a laptop screen.
    list_display = (
        "id", "created_at", "sku", "location_code", "reason", "moved", "on_hand_after",
        "reserved_after", "made_by", "source", "reference_label",
    )  # fmt: skip
    list_select_related = ("product", "location", "actor")
    list_filter = (
        ("merchant", ScopedMerchantFilter),
        ("location", ScopedLocationFilter),
        "reason",
        "source",
        ("actor", ActorFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    # One exact, indexed lookup: an OR over more ledger columns would scan the whole ledger.
    search_fields = ("product__sku__exact",)
    search_help_text = "Exact SKU."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 100
    actions = ["export_selected_csv"]
    csv_filename = "ledger"
    csv_fields = (
        ("id", "id"), ("created_at", "created_at"), ("merchant", "merchant__code"),
        ("sku", "product__sku"), ("location", "location__code"), ("reason", "reason"),
        ("on_hand_delta", "on_hand_delta"), ("reserved_delta", "reserved_delta"),
        ("damaged_delta", "damaged_delta"), ("in_transit_delta", "in_transit_delta"),
        ("on_hand_after", "on_hand_after"), ("reserved_after", "reserved_after"),
        ("damaged_after", "damaged_after"), ("in_transit_after", "in_transit_after"),
        ("version_after", "version_after"), ("actor", "actor__username"), ("source", "source"),
        ("reference", "reference"), ("note", "note"), ("idempotency_key", "idempotency_key"),
        ("api_key_id", "actor_api_key_id"), ("api_key_name", "actor_api_key_name"),
        ("occurred_at", "occurred_at"),
    )  # fmt: skip

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, entry: LedgerEntry) -> str:
        return entry.product.sku

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, entry: LedgerEntry) -> str:
        return entry.location.code

    @admin.display(description="Change")
    def moved(self, entry: LedgerEntry) -> str:
        return ledger_change(entry)

    @admin.display(description="Reference", ordering="reference")
    def reference_label(self, entry: LedgerEntry) -> str:
        # "reservation:<uuid>" shows the UUID's first block, the whole reference on hover.
        short = UUID_IN_TEXT.sub(lambda match: match.group(0).split("-")[0], entry.reference)
        return with_hover(short, entry.reference)

    @admin.display(description="Actor")
    def made_by(self, entry: LedgerEntry) -> str:
        return actor_label(entry)


# --- Reservations -------------------------------------------------------------------------


class ReservationLineInline(ReadOnlyInline):
    model = ReservationLine
    fields = ("product", "location", "quantity", "substitute_for", "substitute_for_quantity")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "location", "substitute_for")


class ReservationReturnInline(ReadOnlyInline):
    """Returns and cancellations after commit (recorded through the API's
    `reservations/{id}/return`)."""

    model = ReservationReturn
    fields = ("created_at", "disposition", "cancellation", "returned", "reason", "created_by")
    readonly_fields = fields
    verbose_name = "return"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("lines__product", "lines__location")

    @admin.display(description="Units back")
    def returned(self, record: ReservationReturn) -> str:
        return ", ".join(
            f"{line.quantity} {line.product.sku} at {line.location.code}"
            for line in record.lines.all()
        )


class ReservationStatusFilter(admin.SimpleListFilter):
    """The status as of now: active past the TTL is expired (see Reservation.current_status)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Reservation.Status.choices

    def queryset(self, request, queryset):
        if self.value() in Reservation.Status.values:
            return queryset.filter(reservation_status_q(self.value()))
        return queryset


@admin.register(Reservation)
class ReservationAdmin(ScopedAdminMixin, admin.ModelAdmin):
    change_role = None
    allow_add = allow_delete = False
    list_display = (
        "short_id", "order_ref", "merchant", "current_status", "expires_at", "source", "created_at",
    )  # fmt: skip
    list_select_related = ("merchant",)
    fields = (
        "merchant", "current_status", "order_ref", "expires_at", "source", "created_by",
        "created_at", "closed_at",
    )  # fmt: skip
    readonly_fields = ("current_status",)
    list_filter = (
        ("merchant", ScopedMerchantFilter),
        ReservationStatusFilter,
        ("lines__location", ScopedLocationFilter),
        "source",
        ("created_at", admin.DateFieldListFilter),
        ("expires_at", admin.DateFieldListFilter),
    )
    search_fields = ("=id", "order_ref")
    show_full_result_count = False
    inlines = [ReservationLineInline, ReservationReturnInline]
    actions = ["release_selected", "commit_selected"]
    stock_actions = ("release_selected", "commit_selected")
    change_form_template = "admin/inventory/reservation/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return reservations_visible(queryset, request.user)

    @admin.display(description="Reservation", ordering="id")
    def short_id(self, reservation: Reservation) -> str:
        return short_uuid(reservation.pk)

    @admin.display(description="Status", ordering="status")
    def current_status(self, reservation: Reservation) -> str:
        return Reservation.Status(reservation.current_status).label

    def get_urls(self):
        urls = [
            path(
                f"<path:object_id>/{step}/",
                self.admin_site.admin_view(
                    lambda request, object_id, step=step: admin_views.reservation_step_view(
                        self, request, object_id, step
                    )
                ),
                name=f"inventory_reservation_{step}",
            )
            for step in admin_views.RESERVATION_STEPS
        ]
        return [*urls, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        reservation = (
            self.get_queryset(request).filter(pk=admin_views.uuid_or_none(object_id)).first()
        )
        extra_context = {
            **(extra_context or {}),
            "can_change_stock": reservation is not None
            and reservation.current_status == Reservation.Status.ACTIVE
            and admin_views.reservation_changeable(request.user, reservation),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Release selected reservations (give the units back)")
    def release_selected(self, request, queryset):
        for reservation in queryset.select_related("merchant"):
            admin_views.reservation_step(request, reservation, "release")

    @admin.action(description="Commit selected reservations (sold)")
    def commit_selected(self, request, queryset):
        for reservation in queryset.select_related("merchant"):
            admin_views.reservation_step(request, reservation, "commit")


# --- Transfers ----------------------------------------------------------------------------


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    fields = ("product", "quantity")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Transfer)
class TransferAdmin(CsvExportMixin, ScopedAdminMixin, admin.ModelAdmin):
    location_fields = ("source_location_id", "destination_location_id")
    change_role = None
    allow_delete = False
    list_display = (
        "transfer", "merchant", "from_location", "to_location", "status", "carrier",
        "tracking_number", "created_at", "shipped_at", "received_at",
    )  # fmt: skip
    list_select_related = ("merchant", "source_location", "destination_location")
    list_filter = (
        ("merchant", ScopedMerchantFilter),
        "status",
        ("source_location", ScopedLocationFilter),
        ("destination_location", ScopedLocationFilter),
        "carrier",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("reference", "=id", "=tracking_number")
    search_help_text = "Reference, transfer id or exact tracking number."
    show_full_result_count = False
    inlines = [TransferLineInline]
    actions = ["ship_selected", "receive_selected", "cancel_selected", "export_selected_csv"]
    stock_actions = ("ship_selected", "receive_selected", "cancel_selected")
    change_form_template = "admin/inventory/transfer/change_form.html"
    csv_filename = "transfers"
    csv_fields = (
        ("id", "id"), ("merchant", "merchant__code"), ("reference", "reference"),
        ("source", "source_location__code"), ("destination", "destination_location__code"),
        ("status", "status"), ("carrier", "carrier"), ("tracking_number", "tracking_number"),
        ("shipping_cost", "shipping_cost"), ("note", "note"), ("created_at", "created_at"),
        ("shipped_at", "shipped_at"), ("received_at", "received_at"),
        ("cancelled_at", "cancelled_at"),
    )  # fmt: skip

    def has_add_permission(self, request, *args):
        return access_for(request.user).changes_any_stock

    @admin.display(description="Transfer", ordering="reference")
    def transfer(self, transfer: Transfer) -> str:
        return transfer.reference or short_uuid(transfer.pk)

    @admin.display(description="From", ordering="source_location__code")
    def from_location(self, transfer: Transfer) -> str:
        return location_label(transfer.source_location)

    @admin.display(description="To", ordering="destination_location__code")
    def to_location(self, transfer: Transfer) -> str:
        return location_label(transfer.destination_location)

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.transfer_create_view(self, request)

    def get_urls(self):
        urls = [
            path(
                f"<path:object_id>/{step}/",
                self.admin_site.admin_view(
                    lambda request, object_id, step=step: admin_views.transfer_step_view(
                        self, request, object_id, step
                    )
                ),
                name=f"inventory_transfer_{step}",
            )
            for step in admin_views.TRANSFER_STEPS
        ]
        return [*urls, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        transfer = (
            self.get_queryset(request)
            .select_related("source_location", "destination_location")
            .filter(pk=admin_views.uuid_or_none(object_id))
            .first()
        )
        steps = []
        if transfer is not None:
            access = access_for(request.user)
            if transfer.status == Transfer.Status.DRAFT and access.changes_stock_at(
                transfer.source_location
            ):
                steps = [("ship", "Ship"), ("cancel", "Cancel")]
            elif transfer.status == Transfer.Status.IN_TRANSIT and access.changes_stock_at(
                transfer.destination_location
            ):
                steps = [("receive", "Receive")]
        extra_context = {**(extra_context or {}), "transfer_steps": steps}
        return super().change_view(request, object_id, form_url, extra_context)

    def _step_all(self, request, queryset, step: str) -> None:
        related = queryset.select_related("merchant", "source_location", "destination_location")
        for transfer in related:
            admin_views.transfer_step(request, transfer, step)

    @admin.action(description="Ship selected transfers")
    def ship_selected(self, request, queryset):
        self._step_all(request, queryset, "ship")

    @admin.action(description="Receive selected transfers")
    def receive_selected(self, request, queryset):
        self._step_all(request, queryset, "receive")

    @admin.action(description="Cancel selected draft transfers")
    def cancel_selected(self, request, queryset):
        self._step_all(request, queryset, "cancel")
