from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def cell(row: dict, key: str):
    """row[key] for a report row (templates cannot index with a variable)."""
    return row.get(key)


@register.simple_tag
def report_table_rows(report, rows):
    """Rows of a report as lists of cells, in the report's column order."""
    return [[row.get(key) for _, key in report.columns] for row in rows]


@register.simple_tag
def level_url(level_id: int) -> str:
    return reverse("admin:inventory_stocklevel_change", args=[level_id])
