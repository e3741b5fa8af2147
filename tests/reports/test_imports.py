import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.catalog.models import Product
from apps.inventory import services
from apps.inventory.models import LedgerEntry, Source, StockLevel
from apps.reports.models import ImportBatch
from apps.reports.services import import_read, import_read_waiting, import_run, import_upload
from tests import factories
from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db


def upload(client, kind, merchant, name, content: bytes):
    """Upload through the admin page, then read the file as the background job does."""
    response = client.post(
        reverse("reports:import_upload", args=[kind]),
        {"merchant": merchant.pk, "file": SimpleUploadedFile(name, content)},
    )
    import_read_waiting()
    return response


def previewed(**upload_arguments) -> ImportBatch:
    """An uploaded file, read: its batch waits for confirmation (or was refused)."""
    batch = import_upload(**upload_arguments)
    import_read(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def test_count_import_preview_confirm_and_double_submit(
    client, merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    manager = staff(merchant, Role.MANAGER, locations=[location])
    logged_in(client, manager)
    content = (
        f"sku,location,counted\n{product.sku},{location.code},7\nNOPE,{location.code},1\n"
        f"{product.sku},{location.code},x\n"
    ).encode()
    response = upload(client, "counts", merchant, "count.csv", content)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    preview = client.get(response.url)
    body = preview.content.decode()
    assert "Unknown SKU &#x27;NOPE&#x27;." in body
    assert "Counted &#x27;x&#x27; is not a whole number from 0." in body
    assert [e["row"] for e in batch.errors] == [3, 4]
    assert (batch.total_rows, batch.valid_rows) == (3, 1)
    assert StockLevel.objects.get(product=product).on_hand == 10  # nothing applied yet

    url = reverse("reports:import_batch", args=[batch.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post(url, follow=True)
    assert callbacks == []
    assert "already confirmed" in again.content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.processed_rows, batch.result["variance"]) == ("done", 1, -3)
    entry = LedgerEntry.objects.get(reason="count")
    assert (entry.actor, entry.source, entry.on_hand_after) == (manager, Source.IMPORT, 7)
    import_run(batch_id=batch.pk)  # a retried task does nothing either
    assert LedgerEntry.objects.filter(reason="count").count() == 1


def test_count_import_rows_outside_the_managers_locations_are_errors(
    client, merchant, product, location, other_location
):
    logged_in(client, staff(merchant, Role.MANAGER, locations=[location]))
    content = f"sku,location,counted\n{product.sku},{other_location.code},1\n".encode()
    upload(client, "counts", merchant, "c.csv", content)
    batch = ImportBatch.objects.get()
    assert batch.errors == [
        {"row": 2, "message": f"You do not manage location {other_location.code}."}
    ]
    client.post(reverse("reports:import_batch", args=[batch.pk]))
    assert ImportBatch.objects.get().status == "preview"  # nothing valid: nothing to start
    assert not LedgerEntry.objects.exists()


def test_count_import_refused_rows_are_reported_and_the_rest_applied(
    merchant, location, django_capture_on_commit_callbacks
):
    owner = staff(merchant, Role.OWNER)
    held, free = factories.product(merchant), factories.product(merchant)
    factories.stock(held, location, 10)
    factories.stock(free, location, 10)
    from apps.reports.services import import_confirm

    content = f"sku,location,counted\n{held.sku},{location.code},5\n{free.sku},{location.code},8\n"
    batch = previewed(merchant=merchant, kind="counts", filename="c.csv",
                      content=content.encode(), user=owner)  # fmt: skip
    # A reservation arrives between preview and confirmation.
    services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(held, 7, location)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert import_confirm(batch=batch)
    batch.refresh_from_db()
    assert batch.status == "done"
    assert batch.result == {"counted": 1, "variance": -2, "refused": 1}
    assert "counted 5 but 7 units are reserved" in batch.errors[0]["message"]
    assert StockLevel.objects.get(product=held).on_hand == 10
    assert StockLevel.objects.get(product=free).on_hand == 8


def test_product_import_creates_and_updates(client, merchant, django_capture_on_commit_callbacks):
    existing = factories.product(merchant, sku="TEE-1", name="Old name")
    logged_in(client, staff(merchant, Role.OWNER))
    content = (
        b"SKU;Name;Price;Unit;is_active\nTEE-1;Black tee;19.00;each;yes\nCAP-1;Cap;7.5;each;no\n"
        b"BAD-1;;-3;gallon;maybe\n"
    )
    response = upload(client, "products", merchant, "products.csv", content)
    batch = ImportBatch.objects.get()
    assert batch.errors[0]["row"] == 4
    assert "Name is empty; price -3 is out of range; unit 'gallon'" in batch.errors[0]["message"]
    page = client.get(response.url).content.decode()
    assert "update" in page
    assert "create" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:import_batch", args=[batch.pk]))
    existing.refresh_from_db()
    cap = Product.objects.get(merchant=merchant, sku="CAP-1")
    assert (existing.name, str(existing.price)) == ("Black tee", "19.00")
    assert (cap.name, str(cap.price), cap.is_active) == ("Cap", "7.50", False)
    assert ImportBatch.objects.get().result == {"created": 1, "updated": 1}


def test_xlsx_import(client, merchant, product, location, django_capture_on_commit_callbacks):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["sku", "location", "counted"])
    sheet.append([product.sku, location.code, 4])
    buffer = io.BytesIO()
    workbook.save(buffer)
    logged_in(client, staff(merchant, Role.OWNER))
    upload(client, "counts", merchant, "count.xlsx", buffer.getvalue())
    batch = ImportBatch.objects.get()
    assert batch.errors == []
    assert batch.rows[0]["counted"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("reports:import_batch", args=[batch.pk]))
    assert StockLevel.objects.get(product=product, location=location).on_hand == 4


def test_an_unreadable_file_is_refused_with_the_reason(client, merchant):
    logged_in(client, staff(merchant, Role.OWNER))
    response = upload(client, "counts", merchant, "count.pdf", b"%PDF")
    assert "Upload a .csv or .xlsx file." in response.content.decode()  # on the form at once
    assert not ImportBatch.objects.exists()
    response = upload(client, "counts", merchant, "count.csv", b"sku,counted\nA,1\n")
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.file_error) == ("refused", "Missing column(s): location.")
    assert batch.content is None  # the file is not kept once read
    page = client.get(response.url).content.decode()
    assert "The file was not imported: Missing column(s): location." in page
    assert "Confirm import" not in page


def test_import_permissions(client, merchant, other_merchant):
    logged_in(client, staff(merchant, Role.VIEWER))
    assert client.get(reverse("reports:import_upload", args=["counts"])).status_code == 403
    logged_in(client, staff(merchant, Role.MANAGER))
    assert client.get(reverse("reports:import_upload", args=["products"])).status_code == 403
    assert client.get(reverse("reports:import_upload", args=["counts"])).status_code == 200
    # Another merchant's batch does not exist for you.
    other_owner = staff(other_merchant, Role.OWNER)
    batch = previewed(merchant=other_merchant, kind="products", filename="p.csv",
                      content=b"sku,name\nA,B\n", user=other_owner)  # fmt: skip
    assert client.get(reverse("reports:import_batch", args=[batch.pk])).status_code == 404
    assert client.post(reverse("reports:import_batch", args=[batch.pk])).status_code == 404
    assert ImportBatch.objects.get(pk=batch.pk).status == "preview"


def test_large_count_import_applies_in_chunks_and_resumes_without_repeating(
    merchant, location, monkeypatch
):
    from apps.reports import services as report_services

    monkeypatch.setattr(report_services, "CHUNK_ROWS", 2)
    owner = staff(merchant, Role.OWNER)
    products = [factories.product(merchant) for _ in range(5)]
    content = "sku,location,counted\n" + "".join(
        f"{p.sku},{location.code},{n + 1}\n" for n, p in enumerate(products)
    )
    batch = previewed(
        merchant=merchant, kind="counts", filename="big.csv", content=content.encode(), user=owner
    )
    # A run whose worker died leaves the batch running: the next run picks it up.
    ImportBatch.objects.filter(pk=batch.pk).update(status="running")
    report_services.import_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.processed_rows, batch.result["counted"]) == ("done", 5, 5)
    first = StockLevel.objects.get(product=products[0])
    assert first.on_hand == 1
    keys = set(LedgerEntry.objects.filter(reason="count").values_list("idempotency_key", flat=True))
    assert keys == {f"import:{batch.pk}:chunk:{n}" for n in range(3)}
    # Running it again (a duplicated task) applies nothing a second time.
    ImportBatch.objects.filter(pk=batch.pk).update(status="running", processed_rows=2)
    report_services.import_run(batch_id=batch.pk)
    assert LedgerEntry.objects.filter(reason="count").count() == 5
    assert StockLevel.objects.get(product=products[4]).on_hand == 5


def test_a_failed_import_can_be_retried_and_continues(
    merchant, location, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.reports import services as report_services

    owner = staff(merchant, Role.OWNER)
    product = factories.product(merchant)
    batch = previewed(
        merchant=merchant, kind="counts", filename="c.csv", user=owner,
        content=f"sku,location,counted\n{product.sku},{location.code},3\n".encode(),
    )  # fmt: skip

    def broken(*args, **kwargs):
        raise RuntimeError("worker lost its database connection")

    monkeypatch.setattr(report_services, "_apply_counts", broken)
    with django_capture_on_commit_callbacks(execute=True):
        report_services.import_confirm(batch=batch)  # the task fails (and is logged)
    batch.refresh_from_db()
    assert (batch.status, batch.processed_rows) == ("failed", 0)
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert report_services.import_confirm(batch=batch)
    batch.refresh_from_db()
    assert (batch.status, batch.processed_rows) == ("done", 1)
    assert StockLevel.objects.get(product=product).on_hand == 3
