from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from apps.reports.views import import_merchants

register = template.Library()


def _display(value):
    if isinstance(value, datetime):
        return format_date(timezone.localtime(value), "Y-m-d H:i")
    return "" if value is None else value


@register.simple_tag
def report_cells(report, rows):
    """Each row as [(text, url or None)] in the report's page columns; the first cell links to
    the row's admin page when the report names one."""
    table = []
    for row in rows:
        cells = [[_display(row.get(key)), None] for _, key in report.page_columns]
        if report.link and cells:
            url_name, id_key = report.link
            cells[0][1] = reverse(url_name, args=[row[id_key]])
        table.append(cells)
    return table


@register.simple_tag(takes_context=True)
def can_import(context, kind: str) -> bool:
    return import_merchants(context["request"].user, kind).exists()
