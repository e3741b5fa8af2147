"""The admin's stock work: pages and actions that call the inventory services with the
logged-in user as the actor and `Source.ADMIN`, and show a refusal's message on the page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from apps.core.errors import DomainError
from apps.inventory import services
from apps.inventory.admin_forms import (
    AdjustForm,
    CountConfirmFormSet,
    CountLineFormSet,
    CountMetaForm,
    LevelSettingsForm,
    StockOperationForm,
    TransferForm,
    TransferLineFormSet,
    resolve_transfer_lines,
)
from apps.inventory.exceptions import VersionConflict
from apps.inventory.models import Reservation, ReservationLine, Source, StockLevel, Transfer
from apps.merchants.admin_scoping import access_for, admin_context, location_q

STOCK_LEVEL_CHANGE = "admin:inventory_stocklevel_change"


def changeable_levels(user) -> QuerySet[StockLevel]:
    """Stock levels at locations where the user may change stock."""
    access = access_for(user)
    return StockLevel.objects.filter(location_q(access, "location_id", changeable=True))


def _require_stock_access(request: HttpRequest) -> None:
    if not access_for(request.user).changes_any_stock:
        raise PermissionDenied


# --- Receive, adjust, mark damaged -------------------------------------------------------


@dataclass(frozen=True)
class StockOperation:
    slug: str
    title: str
    submit: str
    done: str  # past tense, for the confirmation message
    form_class: type[StockOperationForm]
    call: Callable[..., services.StockChangeResult]

    def apply(self, data: dict[str, Any], user) -> services.StockChangeResult:
        location = data["location"]
        line = services.StockLine(
            product=data["product"], location=location, quantity=data["quantity"]
        )
        extra = {"reason": data["reason"]} if "reason" in data else {"note": data["note"]}
        return self.call(
            merchant=location.merchant,
            lines=[line],
            actor=user,
            idempotency_key=data["idempotency_key"],
            source=Source.ADMIN,
            reference=data["reference"],
            **extra,
        )


OPERATIONS = {
    op.slug: op
    for op in (
        StockOperation(
            "receive", "Receive stock", "Receive", "Received", StockOperationForm,
            services.stock_receive,
        ),
        StockOperation(
            "adjust", "Adjust stock", "Adjust", "Adjusted", AdjustForm, services.stock_adjust
        ),
        StockOperation(
            "damage", "Mark stock damaged", "Mark damaged", "Marked damaged",
            StockOperationForm, services.stock_damage,
        ),
        StockOperation(
            "write_off", "Write off damaged stock", "Write off", "Wrote off",
            StockOperationForm, services.stock_write_off,
        ),
    )
}  # fmt: skip


def _initial_from_query(request: HttpRequest) -> dict[str, Any]:
    """Prefill location and SKU from ?level=<id> (a level the user may change)."""
    level_id = request.GET.get("level", "")
    if not level_id.isdigit():
        return {}
    level = (
        changeable_levels(request.user).select_related("product").filter(pk=int(level_id)).first()
    )
    return {"location": level.location_id, "sku": level.product.sku} if level else {}


def stock_operation_view(model_admin, request: HttpRequest, slug: str) -> HttpResponse:
    operation = OPERATIONS[slug]
    _require_stock_access(request)
    form = operation.form_class(
        request.POST if request.method == "POST" else None,
        user=request.user,
        initial=_initial_from_query(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            result = operation.apply(form.cleaned_data, request.user)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            entry = result.entries[0]
            data = form.cleaned_data
            if result.replayed:
                messages.info(request, "This form was already submitted; nothing changed again.")
            else:
                messages.success(
                    request,
                    f"{operation.done} {data['quantity']} x {data['product'].sku} at "
                    f"{data['location'].code}. On hand is now {entry.on_hand_after}"
                    f"{f', damaged {entry.damaged_after}' if entry.damaged_after else ''} "
                    f"(ledger #{entry.pk}).",
                )
            return redirect(reverse(STOCK_LEVEL_CHANGE, args=[entry.stock_level_id]))
    return render(
        request,
        "admin/inventory/stock_operation.html",
        admin_context(
            request, title=operation.title, form=form, submit=operation.submit,
            opts=model_admin.opts,
        ),
    )  # fmt: skip


# --- Count: enter counted quantities, preview the variance, confirm -------------------------


def _levels_for_count(request: HttpRequest, ids: list[int]) -> list[StockLevel]:
    levels = list(
        changeable_levels(request.user)
        .select_related("product", "location", "merchant")
        .filter(pk__in=ids)
        .order_by("location__code", "product__sku")
    )
    if len(levels) != len(set(ids)):
        raise PermissionDenied("Some of these stock levels are not yours to count.")
    if len({level.merchant_id for level in levels}) > 1:
        raise PermissionDenied("Count one merchant's stock at a time.")
    return levels


def _ids(raw: str) -> list[int]:
    return [int(part) for part in raw.split(",") if part.strip().isdigit()]


def _preview(request, model_admin, levels, counted: dict[int, int], error: str | None = None):
    rows = [
        {
            "level": level,
            "counted": counted[level.pk],
            "variance": counted[level.pk] - level.on_hand,
            "below_reserved": counted[level.pk] < level.reserved,
        }
        for level in levels
    ]
    confirm = CountConfirmFormSet(
        prefix="lines",
        initial=[
            {"level": level.pk, "counted": counted[level.pk], "expected_version": level.version}
            for level in levels
        ],
    )
    meta = CountMetaForm(
        initial={
            "reference": request.POST.get("reference", ""),
            "note": request.POST.get("note", ""),
        }
    )
    return render(
        request,
        "admin/inventory/count_preview.html",
        admin_context(
            request, title="Confirm the count", rows=rows, formset=confirm, meta=meta,
            error=error, opts=model_admin.opts,
            net_variance=sum(row["variance"] for row in rows),
        ),
    )  # fmt: skip


def count_view(model_admin, request: HttpRequest) -> HttpResponse:
    """Step 1 (GET ?levels=1,2,3 or POST step=preview): counted quantities. Step 2 (POST
    step=confirm): apply with the versions seen in the preview, so a change in between is
    refused instead of silently counted over."""
    _require_stock_access(request)
    step = request.POST.get("step") if request.method == "POST" else None
    if step == "confirm":
        return _count_confirm(model_admin, request)
    if step == "preview":
        formset = CountLineFormSet(request.POST, prefix="lines")
        if formset.is_valid() and formset.forms:
            counted = {form.cleaned_data["level"]: form.cleaned_data["counted"] for form in formset}
            levels = _levels_for_count(request, list(counted))
            return _preview(request, model_admin, levels, counted)
        levels = _levels_for_count(
            request,
            [int(v) for k, v in request.POST.items() if k.endswith("-level") and v.isdigit()],
        )
    else:
        levels = _levels_for_count(request, _ids(request.GET.get("levels", "")))
        formset = CountLineFormSet(prefix="lines", initial=[{"level": lv.pk} for lv in levels])
    if not levels:
        messages.warning(request, "Select the stock levels to count first.")
        return redirect(reverse("admin:inventory_stocklevel_changelist"))
    by_id = {level.pk: level for level in levels}
    rows = [(by_id.get(_int(form["level"].value())), form) for form in formset.forms]
    return render(
        request,
        "admin/inventory/count_entry.html",
        admin_context(
            request, title="Count stock", formset=formset, rows=rows, opts=model_admin.opts
        ),
    )


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def uuid_or_none(value) -> uuid.UUID | None:
    """A URL's object id as a UUID; None (found nowhere) when it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _count_confirm(model_admin, request: HttpRequest) -> HttpResponse:
    formset = CountConfirmFormSet(request.POST, prefix="lines")
    meta = CountMetaForm(request.POST)
    if not (formset.is_valid() and meta.is_valid() and formset.forms):
        messages.error(request, "The count could not be read; enter it again.")
        return redirect(reverse("admin:inventory_stocklevel_changelist"))
    lines = {form.cleaned_data["level"]: form.cleaned_data for form in formset}
    levels = _levels_for_count(request, list(lines))
    counted = {level_id: data["counted"] for level_id, data in lines.items()}
    try:
        result = services.stock_count(
            merchant=levels[0].merchant,
            lines=[
                services.StockLine(
                    product=level.product,
                    location=level.location,
                    quantity=lines[level.pk]["counted"],
                    expected_version=lines[level.pk]["expected_version"],
                )
                for level in levels
            ],
            actor=request.user,
            idempotency_key=meta.cleaned_data["idempotency_key"],
            source=Source.ADMIN,
            reference=meta.cleaned_data["reference"],
            note=meta.cleaned_data["note"],
        )
    except VersionConflict as error:
        fresh = _levels_for_count(request, list(lines))
        return _preview(
            request, model_admin, fresh, counted,
            error=f"{error.message} The figures below are current: check them and confirm again.",
        )  # fmt: skip
    except DomainError as error:
        return _preview(request, model_admin, levels, counted, error=error.message)
    if result.replayed:
        messages.info(request, "This count was already recorded; nothing changed again.")
    else:
        variance = sum(entry.on_hand_delta for entry in result.entries)
        messages.success(
            request,
            f"Count recorded for {len(result.entries)} stock level(s); net variance {variance:+d}.",
        )
    if len(levels) == 1:
        return redirect(reverse(STOCK_LEVEL_CHANGE, args=[levels[0].pk]))
    return redirect(reverse("admin:inventory_stocklevel_changelist"))


# --- Safety stock and thresholds ---------------------------------------------------------


def level_settings_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    _require_stock_access(request)
    level = get_object_or_404(
        changeable_levels(request.user).select_related("product", "location", "merchant"),
        pk=_int(object_id),
    )
    initial = {
        "safety_stock": level.safety_stock,
        "low_stock_threshold": level.low_stock_threshold,
        "reorder_point": level.reorder_point,
        "max_level": level.max_level,
        "bucket_count": level.bucket_count,
        "expected_version": level.version,
    }
    form = LevelSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {
            name: form.cleaned_data[name]
            for name in services.LEVEL_SETTINGS
            if form.cleaned_data[name] != initial[name]
        }
        if not changed:
            messages.info(request, "Nothing changed.")
            return redirect(reverse(STOCK_LEVEL_CHANGE, args=[level.pk]))
        try:
            services.stock_level_configure(
                merchant=level.merchant, product=level.product, location=level.location,
                actor=request.user, idempotency_key=form.cleaned_data["idempotency_key"],
                source=Source.ADMIN, expected_version=form.cleaned_data["expected_version"],
                **changed,
            )  # fmt: skip
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, f"Settings saved for {level.product.sku} at {level.location.code}."
            )
            return redirect(reverse(STOCK_LEVEL_CHANGE, args=[level.pk]))
    return render(
        request,
        "admin/inventory/stock_operation.html",
        admin_context(
            request, title=f"Settings: {level.product.sku} at {level.location.code}",
            form=form, submit="Save settings", opts=model_admin.opts, level=level,
        ),
    )  # fmt: skip


# --- Transfers ---------------------------------------------------------------------------


def transfer_create_view(model_admin, request: HttpRequest) -> HttpResponse:
    _require_stock_access(request)
    post = request.POST if request.method == "POST" else None
    form = TransferForm(post, user=request.user)
    lines = TransferLineFormSet(post, prefix="lines")
    if post is not None and form.is_valid() and lines.is_valid():
        source = form.cleaned_data["source_location"]
        resolved = resolve_transfer_lines(lines, source.merchant_id)
        if not resolved and not any(lines.errors):
            form.add_error(None, "Add at least one line.")
        elif resolved:
            try:
                transfer = services.transfer_create(
                    merchant=source.merchant,
                    source_location=source,
                    destination_location=form.cleaned_data["destination_location"],
                    lines=[
                        services.TransferLineRequest(product=product, quantity=quantity)
                        for product, quantity in resolved
                    ],
                    actor=request.user,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    reference=form.cleaned_data["reference"],
                    note=form.cleaned_data["note"],
                    shipping=services.Shipping(
                        carrier=form.cleaned_data["carrier"],
                        tracking_number=form.cleaned_data["tracking_number"],
                        cost=form.cleaned_data["shipping_cost"],
                    ),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"{transfer} created as a draft. Ship it when it leaves.")
                return redirect(reverse("admin:inventory_transfer_change", args=[transfer.pk]))
    return render(
        request,
        "admin/inventory/transfer_form.html",
        admin_context(request, title="New transfer", form=form, lines=lines, opts=model_admin.opts),
    )


TRANSFER_STEPS = {
    # step: (service, which end the user must manage, past tense)
    "ship": (services.transfer_ship, "source_location", "shipped"),
    "receive": (services.transfer_receive, "destination_location", "received"),
    "cancel": (services.transfer_cancel, "source_location", "cancelled"),
}


def transfer_step(request: HttpRequest, transfer: Transfer, step: str) -> bool:
    """Ship, receive or cancel one transfer; reports the outcome as a message. The key is
    derived from the transfer and the step: each happens at most once, so a double submit
    replays."""
    call, end, done = TRANSFER_STEPS[step]
    if not access_for(request.user).changes_stock_at(getattr(transfer, end)):
        messages.error(
            request, f"{transfer}: you do not manage {getattr(transfer, end).code}, so you "
            f"cannot {step} it.",
        )  # fmt: skip
        return False
    kwargs = {"source": Source.ADMIN} if step != "cancel" else {}
    try:
        call(
            merchant=transfer.merchant, transfer_id=transfer.pk, actor=request.user,
            idempotency_key=f"admin:transfer.{step}:{transfer.pk}", **kwargs,
        )  # fmt: skip
    except DomainError as error:
        messages.error(request, error.message)
        return False
    messages.success(request, f"{transfer.reference or transfer.pk}: {done}.")
    return True


def transfer_step_view(model_admin, request: HttpRequest, object_id: str, step: str):
    if request.method != "POST":
        return redirect(reverse("admin:inventory_transfer_change", args=[object_id]))
    transfer = get_object_or_404(
        model_admin.get_queryset(request).select_related(
            "merchant", "source_location", "destination_location"
        ),
        pk=uuid_or_none(object_id),
    )
    transfer_step(request, transfer, step)
    return redirect(reverse("admin:inventory_transfer_change", args=[transfer.pk]))


# --- Reservations ------------------------------------------------------------------------


RESERVATION_STEPS = {
    # step: (service, past tense, the status it leads to)
    "release": (services.reservation_release, "released", Reservation.Status.RELEASED),
    "commit": (services.reservation_commit, "committed", Reservation.Status.COMMITTED),
}


def reservation_changeable(user, reservation: Reservation) -> bool:
    """True when every line of the reservation is at a location the user changes stock at."""
    access = access_for(user)
    if access.is_superuser:
        return True
    outside = ReservationLine.objects.filter(reservation_id=reservation.pk).exclude(
        location_q(access, "location_id", "location__merchant_id", changeable=True)
    )
    return not outside.exists()


def reservation_step(request: HttpRequest, reservation: Reservation, step: str) -> bool:
    call, done, status = RESERVATION_STEPS[step]
    if not reservation_changeable(request.user, reservation):
        messages.error(request, f"{reservation}: it holds stock at locations you do not manage.")
        return False
    try:
        result = call(
            merchant=reservation.merchant, reservation_id=reservation.pk, actor=request.user,
            idempotency_key=f"admin:reservation.{step}:{reservation.pk}", source=Source.ADMIN,
        )  # fmt: skip
    except DomainError as error:
        messages.error(request, error.message)
        return False
    if result.status != status:
        messages.info(request, f"Reservation {reservation.pk} was already {result.status}.")
        return False
    messages.success(request, f"Reservation {reservation.order_ref or reservation.pk} {done}.")
    return True


def reservation_step_view(model_admin, request: HttpRequest, object_id: str, step: str):
    if request.method != "POST":
        return redirect(reverse("admin:inventory_reservation_change", args=[object_id]))
    reservation = get_object_or_404(
        model_admin.get_queryset(request).select_related("merchant"), pk=uuid_or_none(object_id)
    )
    reservation_step(request, reservation, step)
    return redirect(reverse("admin:inventory_reservation_change", args=[reservation.pk]))
