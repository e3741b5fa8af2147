import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.admin_tools import EstimatedCountPaginator
from tests import factories

pytestmark = pytest.mark.django_db


def test_unfiltered_large_list_takes_its_count_from_the_planner(
    admin_client, merchant, location, other_location, monkeypatch
):
    for _ in range(3):
        factories.stock(factories.product(merchant), location, 1)
    factories.stock(factories.product(merchant), other_location, 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_stocklevel")
    monkeypatch.setattr(EstimatedCountPaginator, "LARGE_TABLE", 1)
    changelist = reverse("admin:inventory_stocklevel_changelist")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(changelist)
    assert page.context["cl"].result_count == 4
    assert not [
        q for q in queries if 'COUNT(*) AS "__count" FROM "inventory_stocklevel"' in q["sql"]
    ]
    with CaptureQueriesContext(connection) as queries:
        filtered = admin_client.get(changelist, {"location__id__exact": location.pk})
    assert filtered.context["cl"].result_count == 3
    assert [q for q in queries if 'COUNT(*) AS "__count"' in q["sql"]]


def test_csv_cells_never_become_spreadsheet_formulas():
    from apps.core.admin_tools import csv_cell

    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-3) == -3
    assert csv_cell("Black tee") == "Black tee"
    assert csv_cell(None) == ""
