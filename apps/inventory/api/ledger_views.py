"""The ledger: every change of every stock level, newest first, cursor-paginated; and a CSV
export of the same filters, streamed (formula-safe, see apps.core.admin_tools)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers

from apps.api.pagination import LedgerCursorPagination
from apps.api.renderers import CSVRenderer
from apps.api.views import MerchantAPIView
from apps.core.admin_tools import csv_response
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
    # Added later: at the end, so that readers by position keep working.
    "api_key_id",
    "api_key_name",
    "occurred_at",
]


def _csv_row(row: dict) -> list:
    key = row["api_key"] or {}
    flat = {**row, "api_key_id": key.get("id"), "api_key_name": key.get("name")}
    return [flat[column] for column in CSV_COLUMNS]


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
        rows = (
            _csv_row(s.LedgerEntrySerializer(entry).data)
            for entry in entries.iterator(chunk_size=2000)
        )
        return csv_response("ledger", CSV_COLUMNS, rows)
