"""With a broker, an uploaded file is read by a Celery worker process."""

import pytest

from apps.reports.models import ImportBatch
from apps.reports.services import import_upload
from inventory_site.celery import app as celery_app
from tests.admin_helpers import Role, staff
from tests.realstack import celery_workers, wait_for, wait_until_workers_idle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def test_a_worker_reads_the_upload_and_the_request_only_queues_it(merchant, settings):
    owner = staff(merchant, Role.OWNER)
    with celery_workers(count=1):
        celery_app.conf.task_always_eager = False
        settings.STOCKROOM_EMBEDDED = False
        try:
            batch = import_upload(
                merchant=merchant, kind="products", filename="p.csv", user=owner,
                content=b"sku,name\nA-1,Tee\nB-1,\n",
            )  # fmt: skip
            wait_for(lambda: ImportBatch.objects.get(pk=batch.pk).status != "reading", 30)
        finally:
            celery_app.conf.task_always_eager = True
            wait_until_workers_idle()
    batch.refresh_from_db()
    assert (batch.status, batch.total_rows, batch.valid_rows) == ("preview", 2, 1)
    assert batch.errors == [{"row": 3, "message": "Name is empty."}]
    assert batch.content is None
