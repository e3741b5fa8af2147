"""The ledger: every change of every stock level, newest first, cursor-paginated; and a CSV
export of the same filters, streamed."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers

from apps.core.api.pagination import LedgerCursorPagination
from apps.core.api.views import MerchantAPIView
from apps.inventory import selectors
from apps.inventory.api import serializers as s

CSV_COLUMNS = [
    "id",
    "created_at",
    "sku",
    "location",
    "reason",
    "on_hand_delta",
    "reserved_delta",
    "damaged_delta",
    "in_transit_delta",
    "on_hand_after",
    "reserved_after",
    "damaged_after",
    "in_transit_after",
    "safety_stock_after",
    "version_after",
    "source",
    "actor",
    "reference",
    "note",
]


class LedgerListView(MerchantAPIView):
    pagination_class = LedgerCursorPagination

    @extend_schema(
        operation_id="ledger_list",
        parameters=[s.LedgerFilterSerializer],
        responses=s.LedgerEntrySerializer(many=True),
        tags=["ledger"],
    )
    def get(self, request):
        filters = self.query(s.LedgerFilterSerializer)
        return self.paginated(
            selectors.ledger_list(merchant=request.merchant, **filters), s.LedgerEntrySerializer
        )


TEXT_COLUMNS = {"sku", "location", "actor", "reference", "note"}


class CSVRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


def _cell(column: str, value: object) -> object:
    """Neutralise spreadsheet formulas in free-text cells (CSV injection)."""
    if column in TEXT_COLUMNS and isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


class LedgerExportView(MerchantAPIView):
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="ledger_export",
        parameters=[s.LedgerFilterSerializer],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
        tags=["ledger"],
        description="The filtered ledger as CSV (newest first), streamed: suits large exports.",
    )
    def get(self, request):
        filters = self.query(s.LedgerFilterSerializer)
        entries = selectors.ledger_list(merchant=request.merchant, **filters)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(
            self._rows(entries), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="ledger-{stamp}.csv"'
        return response

    @staticmethod
    def _rows(entries) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator(chunk_size=2000):
            row = s.LedgerEntrySerializer(entry).data
            yield writer.writerow([_cell(column, row[column]) for column in CSV_COLUMNS])
