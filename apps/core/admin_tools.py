"""Admin helpers shared by the apps: CSV export of a filtered change list, a paginator that
avoids COUNT(*) over a whole large table, and idempotency keys for forms that change stock."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property

CSV_BATCH_SIZE = 2000


def new_idempotency_key() -> str:
    """A fresh key for a form that changes stock: generated when the form is rendered, so a
    double submit of the same page replays instead of acting twice."""
    return f"admin:{uuid.uuid4()}"


class IdempotencyKeyField(forms.CharField):
    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 120)
        kwargs.setdefault("initial", new_idempotency_key)
        super().__init__(**kwargs)


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell as written to CSV: text that a spreadsheet would run as a formula is quoted
    with a leading apostrophe (numbers are left alone)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """Stream a CSV download row by row (constant memory for any size)."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM so spreadsheet programs read UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL an unfiltered list of a large table takes its row count from the planner's
    statistics instead of COUNT(*), which reads the whole table. Filtered lists count exactly."""

    LARGE_TABLE = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > self.LARGE_TABLE:
                return int(row[0])
        return super().count


class CsvExportMixin:
    """Adds "Export CSV" to a change list: the rows as filtered and searched on the page, all
    of them (streamed), plus an action that exports the selected rows.

    `csv_fields` is a list of (header, values_list path); values are read with one streaming
    query, without instantiating models."""

    csv_fields: Sequence[tuple[str, str]] = ()
    csv_filename: str = "export"
    change_list_template = "admin/stockroom/change_list.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return self.csv_for(changelist.get_queryset(request))

    def csv_for(self, queryset) -> StreamingHttpResponse:
        paths = [field for _, field in self.csv_fields]
        rows = queryset.order_by(*queryset.query.order_by or ["pk"]).values_list(*paths)
        return csv_response(
            self.csv_filename,
            [header for header, _ in self.csv_fields],
            rows.iterator(chunk_size=CSV_BATCH_SIZE),
        )

    @admin.action(description="Export selected rows as CSV")
    def export_selected_csv(self, request, queryset):
        return self.csv_for(queryset)

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        info = self.opts.app_label, self.opts.model_name
        query = request.GET.urlencode()
        export_url = reverse("admin:{}_{}_export".format(*info))
        links = [("Export CSV", f"{export_url}?{query}" if query else export_url)]
        links.extend(self.changelist_links(request))
        extra_context["stockroom_links"] = links
        return super().changelist_view(request, extra_context=extra_context)

    def changelist_links(self, request: HttpRequest) -> list[tuple[str, str]]:
        """Extra object-tool links for the change list: (label, url)."""
        return []
