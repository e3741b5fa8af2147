from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.inventory import services
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    ReservationLine,
    Source,
    StockLevel,
    Transfer,
)
from apps.merchants.models import Membership
from tests import factories
from tests.admin_helpers import Role, idempotency_key, logged_in, messages_of, staff

pytestmark = pytest.mark.django_db

RECEIVE = reverse("admin:inventory_stocklevel_receive")
ADJUST = reverse("admin:inventory_stocklevel_adjust")
DAMAGE = reverse("admin:inventory_stocklevel_damage")
COUNT = reverse("admin:inventory_stocklevel_count")


@pytest.fixture
def manager(merchant, location):
    return staff(merchant, Role.MANAGER, locations=[location])


def ledger_count() -> int:
    return LedgerEntry.objects.count()


def receive(client, location, sku, quantity, **extra):
    form = client.get(RECEIVE)
    data = {"location": location.pk, "sku": sku, "quantity": quantity, "reference": "",
            "note": "", "idempotency_key": idempotency_key(form), **extra}  # fmt: skip
    return client.post(RECEIVE, data), data


def test_receive_form_changes_stock_through_the_service_with_the_user_as_actor(
    client, manager, product, location
):
    logged_in(client, manager)
    response, _ = receive(client, location, product.sku, 7, reference="PO-9")
    level = StockLevel.objects.get(product=product, location=location)
    assert response.status_code == 302
    assert response.url == reverse("admin:inventory_stocklevel_change", args=[level.pk])
    entry = LedgerEntry.objects.get(stock_level=level)
    assert (level.on_hand, entry.on_hand_delta, entry.reason) == (7, 7, "receive")
    assert (entry.actor, entry.source, entry.reference) == (manager, Source.ADMIN, "PO-9")
    assert f"On hand is now 7 (ledger #{entry.pk})" in messages_of(response)[-1]


def test_receive_double_submit_has_no_second_effect(client, manager, product, location):
    logged_in(client, manager)
    _response, data = receive(client, location, product.sku, 5)
    again = client.post(RECEIVE, data)
    assert again.status_code == 302
    assert "already submitted" in messages_of(again)[-1]
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5
    assert ledger_count() == 1


def test_receive_by_barcode(client, manager, merchant, location):
    product = factories.product(merchant, barcode="4006381333931")
    logged_in(client, manager)
    receive(client, location, "4006381333931", 2)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 2


def test_receive_refused_by_the_engine_shows_its_message_and_keeps_the_form(
    client, manager, product, location
):
    factories.stock(product, location, 8, max_level=10)
    before = ledger_count()
    logged_in(client, manager)
    response, _ = receive(client, location, product.sku, 5)
    assert response.status_code == 200
    body = response.content.decode()
    assert "above the maximum of 10. At most 2 fit" in body
    assert f'value="{product.sku}"' in body  # the form is kept
    assert StockLevel.objects.get(product=product, location=location).on_hand == 8
    assert ledger_count() == before


def test_receive_unknown_sku_is_a_field_error(client, manager, location):
    logged_in(client, manager)
    response, _ = receive(client, location, "NOPE", 1)
    assert response.status_code == 200
    assert "No product with SKU or barcode" in response.content.decode()
    assert ledger_count() == 0


def test_adjust_needs_a_reason(client, manager, product, location):
    factories.stock(product, location, 10)
    logged_in(client, manager)
    form = client.get(ADJUST)
    data = {"location": location.pk, "sku": product.sku, "quantity": -3, "reason": "",
            "reference": "", "idempotency_key": idempotency_key(form)}  # fmt: skip
    response = client.post(ADJUST, data)
    assert response.status_code == 200
    assert StockLevel.objects.get(product=product).on_hand == 10
    response = client.post(ADJUST, {**data, "reason": "Shelf miscount"})
    assert response.status_code == 302
    entry = LedgerEntry.objects.filter(reason="adjust").get()
    assert (entry.on_hand_delta, entry.on_hand_after, entry.note) == (-3, 7, "Shelf miscount")


def test_adjust_below_reserved_is_refused_with_the_figures(
    client, manager, merchant, product, location
):
    factories.stock(product, location, 10)
    services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(product, 8, location)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    before = ledger_count()
    logged_in(client, manager)
    form = client.get(ADJUST)
    response = client.post(ADJUST, {
        "location": location.pk, "sku": product.sku, "quantity": -5, "reason": "Lost",
        "reference": "", "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 200
    assert "requested 5, available 2" in response.content.decode()
    assert ledger_count() == before


def test_mark_damaged_then_write_off(client, manager, product, location):
    factories.stock(product, location, 10)
    logged_in(client, manager)
    form = client.get(DAMAGE)
    response = client.post(DAMAGE, {
        "location": location.pk, "sku": product.sku, "quantity": 4, "reference": "",
        "note": "Crushed pallet", "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 302
    assert "On hand is now 6, damaged 4" in messages_of(response)[-1]
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.damaged) == (6, 4)
    write_off = reverse("admin:inventory_stocklevel_write_off")
    form = client.get(write_off)
    data = {"location": location.pk, "sku": product.sku, "quantity": 5, "reference": "",
            "note": "Skip", "idempotency_key": idempotency_key(form)}  # fmt: skip
    refused = client.post(write_off, data)
    assert "requested 5, damaged 4" in refused.content.decode()
    assert client.post(write_off, {**data, "quantity": 4}).status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.damaged) == (6, 0)
    assert LedgerEntry.objects.filter(reason="write_off", actor=manager).count() == 1


def _preview(client, level, counted):
    return client.post(COUNT, {
        "step": "preview", "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 1,
        "lines-0-level": level.pk, "lines-0-counted": counted,
    })  # fmt: skip


def _confirm(client, preview, level, counted, version):
    return client.post(COUNT, {
        "step": "confirm", "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 1,
        "lines-0-level": level.pk, "lines-0-counted": counted,
        "lines-0-expected_version": version, "reference": "Cycle 12", "note": "",
        "idempotency_key": idempotency_key(preview),
    })  # fmt: skip


def test_count_shows_the_variance_before_confirming_then_records_it(
    client, manager, product, location
):
    level = factories.stock(product, location, 10)
    logged_in(client, manager)
    entry_page = client.get(f"{COUNT}?levels={level.pk}")
    assert entry_page.status_code == 200
    assert product.sku in entry_page.content.decode()
    preview = _preview(client, level, 7)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "Confirm count" in body
    assert ">-3<" in body
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10  # nothing recorded yet
    done = _confirm(client, preview, level, 7, level.version)
    assert done.status_code == 302
    level.refresh_from_db()
    entry = LedgerEntry.objects.filter(reason="count").get()
    assert (level.on_hand, entry.on_hand_delta, entry.actor, entry.reference) == (
        7,
        -3,
        manager,
        "Cycle 12",
    )
    assert "net variance -3" in messages_of(done)[-1]
    again = _confirm(client, preview, level, 7, level.version - 1)
    assert LedgerEntry.objects.filter(reason="count").count() == 1
    assert again.status_code in (200, 302)


def test_count_refused_when_the_level_changed_after_the_preview(
    client, manager, merchant, product, location
):
    level = factories.stock(product, location, 10)
    logged_in(client, manager)
    preview = _preview(client, level, 7)
    services.stock_ship(
        merchant=merchant, lines=[services.StockLine(product, location, 1)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    response = _confirm(client, preview, level, 7, level.version)
    assert response.status_code == 200
    body = response.content.decode()
    assert f"expected version {level.version}, current version is {level.version + 1}" in body
    assert ">9<" in body  # the preview shows the current on hand again
    assert StockLevel.objects.get(pk=level.pk).on_hand == 9
    assert not LedgerEntry.objects.filter(reason="count").exists()


def test_count_below_reserved_is_refused(client, manager, merchant, product, location):
    level = factories.stock(product, location, 10)
    services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(product, 6, location)],
        actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    level.refresh_from_db()
    logged_in(client, manager)
    preview = _preview(client, level, 4)
    assert "this count will be refused" in preview.content.decode()
    response = _confirm(client, preview, level, 4, level.version)
    assert "counted 4 but 6 units are reserved" in response.content.decode()
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10


def test_count_selected_action_opens_the_count_page(client, manager, product, location):
    level = factories.stock(product, location, 3)
    logged_in(client, manager)
    response = client.post(
        reverse("admin:inventory_stocklevel_changelist"),
        {"action": "count_selected", "_selected_action": [level.pk]},
    )
    assert response.status_code == 302
    assert response.url == f"{COUNT}?levels={level.pk}"


def test_settings_form_configures_through_the_service(client, manager, product, location):
    level = factories.stock(product, location, 10)
    logged_in(client, manager)
    url = reverse("admin:inventory_stocklevel_settings", args=[level.pk])
    form = client.get(url)
    response = client.post(url, {
        "safety_stock": 2, "low_stock_threshold": 5, "reorder_point": 0, "max_level": "",
        "expected_version": level.version, "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.safety_stock, level.low_stock_threshold, level.on_hand) == (2, 5, 10)
    assert LedgerEntry.objects.filter(reason="configure", actor=manager).exists()


def test_quantities_are_never_editable_in_the_change_form(client, product, location, merchant):
    level = factories.stock(product, location, 10)
    owner = staff(merchant, Role.OWNER)
    logged_in(client, owner)
    url = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="on_hand"' not in body
    assert "Receive</a>" in body
    response = client.post(url, {"on_hand": 999})
    assert response.status_code == 403
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10


def test_superuser_cannot_edit_quantities_either(admin_client, product, location):
    level = factories.stock(product, location, 10)
    url = reverse("admin:inventory_stocklevel_change", args=[level.pk])
    assert admin_client.post(url, {"on_hand": 999}).status_code == 403
    assert admin_client.get(reverse("admin:inventory_stocklevel_add")).status_code == 403


def test_ledger_is_read_only_for_everyone(admin_client, product, location):
    factories.stock(product, location, 10)
    entry = LedgerEntry.objects.get()
    change = reverse("admin:inventory_ledgerentry_change", args=[entry.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"on_hand_delta": 1}).status_code == 403
    assert admin_client.get(reverse("admin:inventory_ledgerentry_add")).status_code == 403
    delete = reverse("admin:inventory_ledgerentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_ledger_filters_and_csv_export(client, merchant, product, location, other_location):
    manager = staff(merchant, Role.MANAGER)
    factories.stock(product, location, 10)
    factories.stock(product, other_location, 4)
    logged_in(client, manager)
    changelist = reverse("admin:inventory_ledgerentry_changelist")
    page = client.get(changelist, {"location__id__exact": other_location.pk, "reason": "receive"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == list(
        LedgerEntry.objects.filter(location=other_location)
    )
    by_sku = client.get(changelist, {"q": product.sku})
    assert len(by_sku.context["cl"].result_list) == 2
    export = client.get(
        reverse("admin:inventory_ledgerentry_export"), {"location__id__exact": location.pk}
    )
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,created_at,merchant,sku,location,reason")
    assert len(lines) == 2
    assert f",{location.code},receive,10," in lines[1]


def test_stock_list_shows_low_stock_badge_and_filters(client, merchant, location):
    low, fine, out = (factories.product(merchant) for _ in range(3))
    factories.stock(low, location, 3, low_stock_threshold=5)
    factories.stock(fine, location, 30, low_stock_threshold=5)
    factories.stock(out, location, 2, safety_stock=2)
    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_stocklevel_changelist")
    page = client.get(changelist)
    body = page.content.decode()
    assert body.count("sr-badge-low") == 1
    assert body.count("sr-badge-out") == 1
    skus = lambda response: {lv.product.sku for lv in response.context["cl"].result_list}  # noqa: E731
    assert skus(client.get(changelist, {"stock": "low"})) == {low.sku}  # threshold 0: off
    assert skus(client.get(changelist, {"stock": "out"})) == {out.sku}
    assert skus(client.get(changelist, {"stock": "ok"})) == {fine.sku}


def test_transfer_create_ship_receive_from_the_admin(
    client, merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    owner = staff(merchant, Role.OWNER)
    logged_in(client, owner)
    add = reverse("admin:inventory_transfer_add")
    form = client.get(add)
    response = client.post(add, {
        "source_location": location.pk, "destination_location": other_location.pk,
        "reference": "TR-7", "note": "", "idempotency_key": idempotency_key(form),
        "lines-TOTAL_FORMS": 2, "lines-INITIAL_FORMS": 0,
        "lines-0-sku": product.sku, "lines-0-quantity": 4, "lines-1-sku": "", "lines-1-quantity": "",
    })  # fmt: skip
    transfer = Transfer.objects.get(reference="TR-7")
    assert response.status_code == 302
    assert transfer.status == "draft"
    page = client.get(reverse("admin:inventory_transfer_change", args=[transfer.pk]))
    assert "Ship</button>" in page.content.decode()
    client.post(reverse("admin:inventory_transfer_ship", args=[transfer.pk]))
    source = StockLevel.objects.get(product=product, location=location)
    destination = StockLevel.objects.get(product=product, location=other_location)
    assert (source.on_hand, destination.in_transit) == (6, 4)
    changelist = reverse("admin:inventory_transfer_changelist")
    client.post(changelist, {"action": "receive_selected", "_selected_action": [transfer.pk]})
    destination.refresh_from_db()
    assert (destination.on_hand, destination.in_transit) == (4, 0)
    entry = LedgerEntry.objects.filter(reason="transfer_in").get()
    assert (entry.actor, entry.source) == (owner, Source.ADMIN)


def test_transfer_refusals_show_the_domain_message(
    client, merchant, product, location, other_location
):
    owner = staff(merchant, Role.OWNER)
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 4)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    logged_in(client, owner)
    response = client.post(
        reverse("admin:inventory_transfer_ship", args=[transfer.pk]), follow=True
    )
    assert "Not enough stock" in response.content.decode()
    assert Transfer.objects.get(pk=transfer.pk).status == "draft"
    client.post(reverse("admin:inventory_transfer_cancel", args=[transfer.pk]))
    response = client.post(
        reverse("admin:inventory_transfer_ship", args=[transfer.pk]), follow=True
    )
    assert "is cancelled: it was cancelled" in response.content.decode()


def test_reservation_release_and_commit(client, merchant, product, location):
    factories.stock(product, location, 10)
    first, second = (
        services.reservation_create(
            merchant=merchant, lines=[services.ReservationLineRequest(product, 3, location)],
            actor=None, idempotency_key=factories.key(),
        )
        for _ in range(2)
    )  # fmt: skip
    manager = staff(merchant, Role.MANAGER, locations=[location])
    logged_in(client, manager)
    client.post(reverse("admin:inventory_reservation_release", args=[first.pk]))
    changelist = reverse("admin:inventory_reservation_changelist")
    client.post(changelist, {"action": "commit_selected", "_selected_action": [second.pk]})
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.reserved) == (7, 0)
    reasons = set(LedgerEntry.objects.filter(actor=manager).values_list("reason", flat=True))
    assert reasons == {"release", "commit"}
    response = client.post(
        reverse("admin:inventory_reservation_commit", args=[first.pk]), follow=True
    )
    assert "is released and cannot be committed" in response.content.decode()
    assert StockLevel.objects.get(product=product).on_hand == 7


def test_reservations_past_their_ttl_show_and_filter_as_expired(
    client, merchant, product, location
):
    factories.stock(product, location, 10)
    lapsed, live = (
        services.reservation_create(
            merchant=merchant, lines=[services.ReservationLineRequest(product, 1, location)],
            actor=None, idempotency_key=factories.key(),
        )
        for _ in range(2)
    )  # fmt: skip
    Reservation.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(1))
    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_reservation_changelist")
    page = client.get(changelist)
    shown = {
        r.pk: page.context["cl"].model_admin.current_status(r)
        for r in page.context["cl"].result_list
    }
    assert shown == {lapsed.pk: "Expired", live.pk: "Active"}
    for status, expected in (("expired", [lapsed]), ("active", [live])):
        page = client.get(changelist, {"status": status})
        assert list(page.context["cl"].result_list) == expected
    detail = client.get(reverse("admin:inventory_reservation_change", args=[lapsed.pk]))
    assert not detail.context["can_change_stock"]
    assert Reservation.objects.get(pk=lapsed.pk).status == "active"  # a read writes nothing


def test_stock_list_queries_do_not_grow_with_rows(client, merchant, location):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_stocklevel_changelist")
    counts = []
    for _ in range(2):
        for _ in range(5):
            factories.stock(factories.product(merchant), location, 3)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(changelist).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_count_with_no_lines_or_garbage_is_a_message_not_an_error(client, manager):
    logged_in(client, manager)
    for step in ("preview", "confirm"):
        response = client.post(
            COUNT, {"step": step, "lines-TOTAL_FORMS": 0, "lines-INITIAL_FORMS": 0}
        )
        assert response.status_code == 302
    garbage = client.post(COUNT, {"step": "preview", "lines-TOTAL_FORMS": "x"})
    assert garbage.status_code == 302
    assert client.get(COUNT, {"levels": "abc"}).status_code == 302


def test_malformed_object_ids_are_not_found(client, manager):
    logged_in(client, manager)
    for url in (
        reverse("admin:inventory_transfer_ship", args=["not-a-uuid"]),
        reverse("admin:inventory_reservation_release", args=["not-a-uuid"]),
    ):
        assert client.post(url).status_code == 404
    assert client.get(reverse("admin:inventory_stocklevel_settings", args=["x"])).status_code == 404
    assert client.get(reverse("admin:inventory_transfer_change", args=["x"])).status_code == 302


def test_reservations_filter_by_location(client, merchant, product, location, other_location):
    factories.stock(product, location, 5)
    factories.stock(product, other_location, 5)
    here, there = (
        services.reservation_create(
            merchant=merchant, lines=[services.ReservationLineRequest(product, 1, place)],
            actor=None, idempotency_key=factories.key(),
        )
        for place in (location, other_location)
    )  # fmt: skip
    logged_in(client, staff(merchant, Role.VIEWER))
    changelist = reverse("admin:inventory_reservation_changelist")
    page = client.get(changelist, {"lines__location__id__exact": other_location.pk})
    assert list(page.context["cl"].result_list) == [there]
    assert here not in page.context["cl"].result_list


def test_mark_damaged_beyond_unreserved_units_is_refused(client, manager, product, location):
    factories.stock(product, location, 3)
    before = ledger_count()
    logged_in(client, manager)
    form = client.get(DAMAGE)
    response = client.post(DAMAGE, {
        "location": location.pk, "sku": product.sku, "quantity": 5, "reference": "",
        "note": "", "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert "requested 5, available 3" in response.content.decode()
    assert StockLevel.objects.get(product=product).damaged == 0
    assert ledger_count() == before


def test_settings_refused_when_the_level_changed_meanwhile(
    client, manager, merchant, product, location
):
    level = factories.stock(product, location, 10)
    logged_in(client, manager)
    url = reverse("admin:inventory_stocklevel_settings", args=[level.pk])
    form = client.get(url)
    receive_key = factories.key()
    services.stock_receive(
        merchant=merchant, lines=[services.StockLine(product, location, 1)], actor=None,
        idempotency_key=receive_key,
    )  # fmt: skip
    response = client.post(url, {
        "safety_stock": 4, "low_stock_threshold": 0, "reorder_point": 0, "max_level": "",
        "expected_version": level.version, "idempotency_key": idempotency_key(form),
    })  # fmt: skip
    assert response.status_code == 200
    assert "Read the level again" in response.content.decode()
    assert StockLevel.objects.get(pk=level.pk).safety_stock == 0


def test_transfer_form_refusals(client, merchant, product, location, other_location):
    logged_in(client, staff(merchant, Role.OWNER))
    add = reverse("admin:inventory_transfer_add")
    form = client.get(add)
    base = {"reference": "", "note": "", "idempotency_key": idempotency_key(form),
            "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 0}  # fmt: skip
    same = client.post(add, {**base, "source_location": location.pk,
                             "destination_location": location.pk,
                             "lines-0-sku": product.sku, "lines-0-quantity": 1})  # fmt: skip
    assert "Pick a location other than the source." in same.content.decode()
    unknown = client.post(add, {**base, "source_location": location.pk,
                                "destination_location": other_location.pk,
                                "lines-0-sku": "NOPE", "lines-0-quantity": 1})  # fmt: skip
    assert "No product with SKU or barcode" in unknown.content.decode()
    empty = client.post(add, {**base, "source_location": location.pk,
                              "destination_location": other_location.pk,
                              "lines-0-sku": "", "lines-0-quantity": ""})  # fmt: skip
    assert "Add at least one line." in empty.content.decode()
    assert not Transfer.objects.exists()


def test_transfer_steps_out_of_order_are_refused(
    client, merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 4)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    logged_in(client, staff(merchant, Role.OWNER))
    early = client.post(
        reverse("admin:inventory_transfer_receive", args=[transfer.pk]), follow=True
    )
    assert "is draft: ship it first" in early.content.decode()
    client.post(reverse("admin:inventory_transfer_ship", args=[transfer.pk]))
    late = client.post(reverse("admin:inventory_transfer_cancel", args=[transfer.pk]), follow=True)
    assert "it has shipped; receive it at the destination" in late.content.decode()
    assert Transfer.objects.get(pk=transfer.pk).status == "in_transit"
    assert StockLevel.objects.get(product=product, location=location).on_hand == 6


def test_titles_and_line_labels_are_words(client, merchant, product, location, other_location):
    """What the admin shows as a page title, a breadcrumb or a line label: names and codes,
    the choice's label, never a raw value or a row id ("in_transit", "3 x 4", "7@2")."""
    factories.stock(product, location, 10)
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product=product, quantity=3)], actor=None,
        idempotency_key=factories.key(), reference="TR-7",
    )  # fmt: skip
    services.transfer_ship(
        merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
    )
    reservation = services.reservation_create(
        merchant=merchant, actor=None, idempotency_key=factories.key(), order_ref="WEB-7",
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=2)],
    )  # fmt: skip
    transfer.refresh_from_db()
    level = StockLevel.objects.get(product=product, location=location)
    entry = LedgerEntry.objects.filter(reason="transfer_in_transit").get()
    membership = Membership.objects.create(
        user=factories.user(), merchant=merchant, role=Role.MANAGER
    )

    assert str(transfer) == "Transfer TR-7 (in transit)"
    assert str(transfer.lines.get()) == f"3 of {product.sku}"
    assert str(reservation) == "Reservation WEB-7 (active)"
    assert str(ReservationLine.objects.get()) == f"2 of {product.sku} at {location.code}"
    assert str(level) == f"{product.sku} at {location.code}"
    assert str(entry) == f"#{entry.pk} Transfer on its way in"
    assert str(membership) == f"{membership.user} at {merchant.name} (warehouse manager)"

    logged_in(client, staff(merchant, Role.OWNER))
    page = client.get(reverse("admin:inventory_transfer_change", args=[transfer.pk]))
    assert "<title>Transfer TR-7 (in transit) | View transfer | Stockroom</title>" in (
        page.content.decode()
    )
