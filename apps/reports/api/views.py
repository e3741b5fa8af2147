"""The reports of the admin's report pages over the API, for the credential's merchant: the
same selectors (`apps.reports.selectors`), as JSON (`{"report", ..., "rows": [...]}`) or as
CSV (`?format=csv` or `Accept: text/csv`: the rows, one column per field)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response

from apps.api.renderers import CSVRenderer
from apps.api.views import MerchantAPIView
from apps.core.admin_tools import csv_response
from apps.locations.selectors import location_get
from apps.reports import selectors
from apps.reports.api import serializers as s
from apps.reports.selectors import ReportScope

Rows = list[dict[str, Any]]
TOTALS = ("skus", "on_hand", "reserved", "available", "damaged", "in_transit", "value")


@dataclass(frozen=True)
class ApiReport:
    """One report: its path under reports/, its rows and parameters, and how to read it."""

    name: str
    row: type[serializers.Serializer]
    query: type[serializers.Serializer]
    # (scope, parameters) -> (rows, the other fields of the JSON answer)
    read: Callable[[ReportScope, dict[str, Any]], tuple[Rows, dict[str, Any]]]
    description: str
    extra: dict[str, Callable[[], serializers.Field]] = field(default_factory=dict)

    def answer_serializer(self) -> type[serializers.Serializer]:
        """The JSON answer, for the schema: `report`, the extra fields, `rows`."""
        camel = "".join(part.title() for part in self.name.split("-"))
        fields = {
            "report": serializers.CharField(help_text=f"`{self.name}`."),
            **{name: make() for name, make in self.extra.items()},
            "rows": self.row(many=True),
        }
        return type(f"{camel}Report", (serializers.Serializer,), fields)


def totals_of(rows: Rows) -> dict[str, Any]:
    return s.LocationTotalsSerializer(selectors.totals(rows, TOTALS)).data


def _by_location(scope, params):
    rows = selectors.stock_by_location(scope)
    return rows, {"totals": totals_of(rows)}


def _low_stock(scope, params):
    return selectors.low_stock(scope, limit=params["limit"]), {}


def _out_of_stock(scope, params):
    return selectors.out_of_stock(scope, limit=params["limit"]), {}


def _in_transit(scope, params):
    return selectors.transfers_in_transit(scope, limit=params["limit"]), {}


def _movements(scope, params):
    return selectors.movements_per_day(scope, days=params["days"]), {"days": params["days"]}


def _top_movers(scope, params):
    rows = selectors.top_movers(scope, days=params["days"], limit=params["limit"])
    return rows, {"days": params["days"]}


def _expiring(scope, params):
    within = timedelta(minutes=params["within_minutes"])
    rows = selectors.reservations_expiring(scope, within=within, limit=params["limit"])
    return rows, {"within_minutes": params["within_minutes"]}


def _as_of(scope, params):
    rows, source = selectors.stock_as_of(scope, params["date"])
    return rows, {"date": params["date"], "source": source, "totals": totals_of(rows)}


def totals_field() -> serializers.Field:
    return s.LocationTotalsSerializer(help_text="Column totals.")


def integer_field() -> serializers.Field:
    return serializers.IntegerField()


def source_field() -> serializers.Field:
    return serializers.ChoiceField(
        choices=["snapshot", "ledger"], help_text="Where the figures come from."
    )


REPORTS = [
    ApiReport(
        "stock-by-location",
        s.StockByLocationRowSerializer,
        s.ReportQuerySerializer,
        _by_location,
        "Per location: SKUs stocked, on hand, reserved, available, damaged, in transit, low "
        "and out-of-stock counts, and stock value (on hand x current price), with totals.",
        extra={"totals": totals_field},
    ),
    ApiReport(
        "low-stock",
        s.LowStockRowSerializer,
        s.ListQuerySerializer,
        _low_stock,
        "Levels with some units available but at or below their low-stock threshold, fewest "
        "available first.",
    ),
    ApiReport(
        "out-of-stock",
        s.OutOfStockRowSerializer,
        s.ListQuerySerializer,
        _out_of_stock,
        "Levels with nothing available, most recently changed first.",
    ),
    ApiReport(
        "movements",
        s.MovementsRowSerializer,
        s.DaysQuerySerializer,
        _movements,
        "Per day (UTC), oldest first, days without movements included: ledger rows that "
        "changed on hand, units in and units out.",
        extra={"days": integer_field},
    ),
    ApiReport(
        "top-movers",
        s.TopMoverRowSerializer,
        s.TopMoversQuerySerializer,
        _top_movers,
        "Products with the most units sold (direct sales and committed reservations).",
        extra={"days": integer_field},
    ),
    ApiReport(
        "reservations-expiring",
        s.ExpiringRowSerializer,
        s.ExpiringQuerySerializer,
        _expiring,
        "Active reservations whose TTL runs out within `within_minutes`, soonest first.",
        extra={"within_minutes": integer_field},
    ),
    ApiReport(
        "transfers-in-transit",
        s.InTransitRowSerializer,
        s.ListQuerySerializer,
        _in_transit,
        "Transfers shipped and not received yet, oldest shipment first.",
    ),
    ApiReport(
        "stock-as-of",
        s.AsOfRowSerializer,
        s.AsOfQuerySerializer,
        _as_of,
        "Stock per location at the end of `date` (UTC): from that day's snapshot when one was "
        "taken (`source: snapshot`, values at the prices then), else rebuilt from the ledger "
        "(`source: ledger`, values at current prices).",
        extra={
            "date": serializers.DateField,
            "source": source_field,
            "totals": totals_field,
        },
    ),
]


class ReportView(MerchantAPIView):
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]
    report: ApiReport

    def get(self, request):
        report = self.report
        params = self.query(report.query)
        location = params.get("location")
        scope = ReportScope.of_merchant(
            request.merchant.pk,
            location_id=location_get(merchant=request.merchant, code=location).pk
            if location
            else None,
        )
        rows, extra = report.read(scope, params)
        data = report.row(rows, many=True).data
        if request.accepted_renderer.format == CSVRenderer.format:
            columns = list(report.row().fields)
            name = f"{report.name}-{extra['date']}" if "date" in extra else report.name
            return csv_response(name, columns, ([row[c] for c in columns] for row in data))
        return Response({"report": report.name, **extra, "rows": data})


def report_view(report: ApiReport) -> type[ReportView]:
    """The view of one report (a `get` of its own: extend_schema annotates the function)."""

    def get(self, request):
        return ReportView.get(self, request)

    documented = extend_schema(
        operation_id=f"reports_{report.name.replace('-', '_')}",
        parameters=[report.query],
        responses={
            (200, "application/json"): report.answer_serializer(),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV."),
        },
        tags=["reports"],
        description=report.description,
    )(get)
    camel = "".join(part.title() for part in report.name.split("-"))
    return type(f"{camel}ReportView", (ReportView,), {"report": report, "get": documented})


VIEWS = {report.name: report_view(report) for report in REPORTS}
