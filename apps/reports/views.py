"""Admin pages for reports and imports (mounted under /admin/reports/, behind the admin's
login). Thin: they read the filters, call selectors or services and render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from apps.core.admin_tools import csv_response
from apps.inventory.admin_forms import LocationChoiceField
from apps.merchants.admin_scoping import (
    access_for,
    admin_context,
    locations_visible,
    merchants_owned,
    merchants_visible,
)
from apps.merchants.models import Merchant
from apps.reports import charts, selectors, services
from apps.reports.imports import COUNT_COLUMNS, PRODUCT_COLUMNS, ImportFileError, check_upload
from apps.reports.models import ImportBatch
from apps.reports.selectors import ReportScope

BY_LOCATION_TOTALS = ("skus", "on_hand", "reserved", "available", "damaged", "in_transit", "value")


def _require_access(request: HttpRequest) -> None:
    if access_for(request.user).is_empty:
        raise PermissionDenied


class ScopeForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none(), required=False)
    location = LocationChoiceField(queryset=None, required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants_visible(user)
        self.fields["location"].queryset = locations_visible(user).order_by("merchant", "code")
        self.fields["merchant"].empty_label = "All merchants"
        self.fields["location"].empty_label = "All locations"


class AsOfForm(ScopeForm):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > timezone.now().date():
            raise forms.ValidationError("Pick today or a past day.")
        return day


def _scope(request: HttpRequest, form: ScopeForm) -> ReportScope:
    data = form.cleaned_data if form.is_valid() else {}
    merchant, location = data.get("merchant"), data.get("location")
    return ReportScope(
        user=request.user,
        merchant_id=merchant.pk if merchant else None,
        location_id=location.pk if location else None,
    )


@dataclass(frozen=True)
class Report:
    title: str
    rows: object  # callable(scope) -> list[dict]
    columns: tuple[tuple[str, str], ...]  # (header, key), as exported to CSV
    link: tuple[str, str] | None = None  # (admin url name, id key): the page links row 1
    csv_only: tuple[str, ...] = ()  # keys left off the page (ids)

    @property
    def page_columns(self) -> tuple[tuple[str, str], ...]:
        return tuple(column for column in self.columns if column[1] not in self.csv_only)


REPORTS = {
    "by_location": Report(
        "Stock by location",
        selectors.stock_by_location,
        (("Merchant", "merchant__name"), ("Location", "location__code"),
         ("Name", "location__name"), ("SKUs", "skus"), ("On hand", "on_hand"),
         ("Reserved", "reserved"), ("Available", "available"), ("Damaged", "damaged"),
         ("In transit", "in_transit"), ("Low", "low"), ("Out", "out"), ("Value", "value")),
    ),
    "low_stock": Report(
        "Low stock",
        selectors.low_stock,
        (("SKU", "product__sku"), ("Product", "product__name"), ("Location", "location__code"),
         ("On hand", "on_hand"), ("Reserved", "reserved"), ("Safety stock", "safety_stock"),
         ("Available", "available_units"), ("Threshold", "low_stock_threshold")),
        link=("admin:inventory_stocklevel_change", "id"),
    ),
    "out_of_stock": Report(
        "Out of stock",
        selectors.out_of_stock,
        (("SKU", "product__sku"), ("Product", "product__name"), ("Location", "location__code"),
         ("On hand", "on_hand"), ("Reserved", "reserved"), ("Safety stock", "safety_stock"),
         ("Last change", "updated_at")),
        link=("admin:inventory_stocklevel_change", "id"),
    ),
    "movements": Report(
        "Movements per day",
        selectors.movements_per_day,
        (("Day", "day"), ("Movements", "movements"), ("Units in", "units_in"),
         ("Units out", "units_out")),
    ),
    "top_movers": Report(
        "Top movers (units sold, 30 days)",
        selectors.top_movers,
        (("SKU", "product__sku"), ("Product", "product__name"), ("Units sold", "units"),
         ("Movements", "movements")),
        link=("admin:catalog_product_change", "product_id"),
    ),
    "expiring": Report(
        "Reservations expiring within an hour",
        selectors.reservations_expiring,
        (("Order", "order_ref"), ("Merchant", "merchant__name"), ("Units", "units"),
         ("Expires", "expires_at"), ("Reservation", "id")),
        link=("admin:inventory_reservation_change", "id"),
        csv_only=("id",),
    ),
    "in_transit": Report(
        "Transfers in transit",
        selectors.transfers_in_transit,
        (("Reference", "reference"), ("From", "source_location__code"),
         ("To", "destination_location__code"), ("Lines", "lines_count"), ("Units", "units"),
         ("Shipped", "shipped_at"), ("Transfer", "id")),
        link=("admin:inventory_transfer_change", "id"),
        csv_only=("id",),
    ),
}  # fmt: skip


def _csv(name: str, report: Report, rows: list[dict]) -> HttpResponse:
    return csv_response(
        name,
        [header for header, _ in report.columns],
        ([row[key] for _, key in report.columns] for row in rows),
    )


def overview(request: HttpRequest) -> HttpResponse:
    _require_access(request)
    form = ScopeForm(request.GET or None, user=request.user)
    scope = _scope(request, form)
    export = request.GET.get("export")
    if export:
        if export not in REPORTS:
            raise Http404("No such report.")
        return _csv(export, REPORTS[export], REPORTS[export].rows(scope))
    data = {name: report.rows(scope) for name, report in REPORTS.items()}
    days = data["movements"]
    chart = charts.bar_chart(
        [day["day"].strftime("%d %b") for day in days],
        [
            ("Units in", "sr-in", [day["units_in"] for day in days]),
            ("Units out", "sr-out", [day["units_out"] for day in days]),
        ],
        "Units moved per day, last 30 days",
    )
    query = request.GET.copy()
    query.pop("export", None)
    return render(
        request,
        "admin/reports/overview.html",
        admin_context(
            request, title="Stock overview", form=form, chart=chart,
            reports=REPORTS, query=query.urlencode(), **data,
            by_location_totals=selectors.totals(data["by_location"], BY_LOCATION_TOTALS),
        ),
    )  # fmt: skip


def as_of(request: HttpRequest) -> HttpResponse:
    _require_access(request)
    yesterday = timezone.now().date() - timedelta(days=1)
    form = AsOfForm(request.GET or None, user=request.user, initial={"date": yesterday})
    scope = _scope(request, form)
    rows, source, day = [], None, None
    if form.is_valid():
        day = form.cleaned_data["date"]
        rows, source = selectors.stock_as_of(scope, day)
        if request.GET.get("export"):
            report = Report(
                "as-of", None, (*REPORTS["by_location"].columns[:9], ("Value", "value"))
            )
            return _csv(f"stock-as-of-{day}", report, rows)
    history = selectors.stock_history(scope)
    labels = [row["date"].strftime("%d %b") for row in history]
    return render(
        request,
        "admin/reports/as_of.html",
        admin_context(
            request, title="Stock as of a past date", form=form, rows=rows, source=source,
            day=day, totals=selectors.totals(rows, BY_LOCATION_TOTALS), query=request.GET.urlencode(),
            on_hand_chart=charts.line_chart(
                labels, [row["on_hand"] for row in history], "On hand, daily", "sr-line"
            ),
            value_chart=charts.line_chart(
                labels, [float(row["value"]) for row in history], "Stock value, daily", "sr-line-value"
            ),
        ),
    )  # fmt: skip


# --- Imports ------------------------------------------------------------------------------


def import_merchants(user, kind: str):
    """Merchants the user may import into: products need an owner, counts a stock role."""
    if kind == ImportBatch.Kind.PRODUCTS:
        return merchants_owned(user)
    access = access_for(user)
    if access.is_superuser:
        return Merchant.objects.all()
    ids = access.stock_merchants | set(
        locations_visible(user)
        .filter(pk__in=access.managed_locations)
        .values_list("merchant_id", flat=True)
    )
    return Merchant.objects.filter(pk__in=ids)


def count_locations(user, merchant: Merchant) -> set[int] | None:
    """Location ids where the user may count at this merchant; None means all of them."""
    access = access_for(user)
    if access.is_superuser or merchant.pk in access.stock_merchants:
        return None
    return set(
        locations_visible(user)
        .filter(merchant=merchant, pk__in=access.managed_locations)
        .values_list("pk", flat=True)
    )


class UploadForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none())
    file = forms.FileField(help_text="CSV (UTF-8, comma or semicolon separated) or XLSX.")

    def __init__(self, *args, merchants, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["merchant"].queryset = merchants
        if merchants.count() == 1:
            self.fields["merchant"].initial = merchants.first()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:  # before reading it into memory
            check_upload(upload.name, upload.size)
        except ImportFileError as error:
            raise forms.ValidationError(str(error)) from error
        return upload


def _kind(kind: str) -> str:
    if kind not in ImportBatch.Kind.values:
        raise Http404("No such import.")
    return kind


def import_upload(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind(kind)
    merchants = import_merchants(request.user, kind)
    if not merchants.exists():
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None, merchants=merchants)
    if request.method == "POST" and form.is_valid():
        merchant, upload = form.cleaned_data["merchant"], form.cleaned_data["file"]
        batch = services.import_upload(
            merchant=merchant, kind=kind, filename=upload.name, content=upload.read(),
            user=request.user, location_ids=count_locations(request.user, merchant),
        )  # fmt: skip
        return redirect(reverse("reports:import_batch", args=[batch.pk]))
    recent = ImportBatch.objects.filter(uploaded_by=request.user, kind=kind).defer(
        "rows", "content"
    )[:10]
    columns = PRODUCT_COLUMNS if kind == ImportBatch.Kind.PRODUCTS else COUNT_COLUMNS
    return render(
        request,
        "admin/reports/import_upload.html",
        admin_context(
            request, title=f"Import {ImportBatch.Kind(kind).label.lower()}", form=form,
            kind=kind, columns=columns, recent=recent,
        ),
    )  # fmt: skip


def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind(kind)
    columns = PRODUCT_COLUMNS if kind == ImportBatch.Kind.PRODUCTS else COUNT_COLUMNS
    return csv_response(f"{kind}-template", columns, [])


def _batch_for(request: HttpRequest, batch_id) -> ImportBatch:
    batch = (
        ImportBatch.objects.select_related("merchant").defer("content").filter(pk=batch_id).first()
    )
    access = access_for(request.user)
    if batch is None or not (
        access.is_superuser
        or batch.uploaded_by_id == request.user.pk
        or batch.merchant_id in access.owned
    ):
        raise Http404("No such import.")
    return batch


PREVIEW_ROWS = 200


def import_batch(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _batch_for(request, batch_id)
    if request.method == "POST":
        if batch.merchant not in import_merchants(request.user, batch.kind):
            raise PermissionDenied
        if services.import_confirm(batch=batch):
            messages.success(request, f"{batch}: confirmed; applying {batch.valid_rows} row(s).")
        else:
            messages.info(request, f"{batch} was already confirmed; nothing started twice.")
        return redirect(reverse("reports:import_batch", args=[batch.pk]))
    preview = batch.rows[:PREVIEW_ROWS]
    if batch.kind == ImportBatch.Kind.COUNTS:
        preview = [{**row, "variance": row["counted"] - row["on_hand"]} for row in preview]
    return render(
        request,
        "admin/reports/import_batch.html",
        admin_context(
            request,
            title=str(batch),
            batch=batch,
            preview=preview,
            more_rows=max(batch.valid_rows - PREVIEW_ROWS, 0),
        ),
    )
