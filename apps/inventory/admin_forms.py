"""Forms of the admin's stock work. They validate input and resolve objects within the user's
scope; the views hand the result to the inventory services (which make every decision about
quantities)."""

from __future__ import annotations

from django import forms

from apps.catalog.models import Product
from apps.core.admin_tools import IdempotencyKeyField
from apps.inventory.models import MAX_BUCKETS, MAX_QUANTITY
from apps.locations.models import Location
from apps.merchants.admin_scoping import locations_changeable, transfer_destinations


def find_product(merchant_id: int, code: str) -> Product:
    """The merchant's product with this SKU, or else this barcode."""
    code = code.strip()
    products = Product.objects.filter(merchant_id=merchant_id)
    product = products.filter(sku=code).first()
    if product is not None:
        return product
    matches = list(products.filter(barcode=code)[:2]) if code else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise forms.ValidationError(f"Barcode {code} belongs to several products: enter the SKU.")
    raise forms.ValidationError(f"No product with SKU or barcode {code!r} at this merchant.")


def preselect_single(field: forms.ModelChoiceField, queryset) -> None:
    """Offer `queryset`; a manager of a single location finds it already chosen."""
    field.queryset = queryset
    choices = list(queryset[:2])
    if len(choices) == 1:
        field.initial = choices[0].pk


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:
        return f"{obj.merchant.name} / {obj.code} {obj.name}"


class StockOperationForm(forms.Form):
    """One product at one location the user may change stock at."""

    location = LocationChoiceField(queryset=Location.objects.none())
    sku = forms.CharField(label="SKU or barcode", max_length=64)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    reference = forms.CharField(
        required=False, max_length=200, help_text="Delivery note, PO or ticket number."
    )
    note = forms.CharField(required=False, max_length=500)
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        preselect_single(self.fields["location"], locations_changeable(user))

    def clean(self):
        data = super().clean()
        location, sku = data.get("location"), data.get("sku")
        if location is not None and sku:
            try:
                data["product"] = find_product(location.merchant_id, sku)
            except forms.ValidationError as error:
                self.add_error("sku", error)
        return data


class AdjustForm(StockOperationForm):
    quantity = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="Signed change of on hand: 5 adds five units, -3 removes three.",
    )
    reason = forms.CharField(max_length=500, help_text="Why on hand is wrong (kept in the ledger).")
    note = None

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise forms.ValidationError("An adjustment of zero changes nothing.")
        return quantity


class CountLineForm(forms.Form):
    level = forms.IntegerField(widget=forms.HiddenInput)
    counted = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY, label="Counted")


CountLineFormSet = forms.formset_factory(CountLineForm, extra=0, max_num=500, validate_max=True)


class CountConfirmLineForm(CountLineForm):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    counted = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_QUANTITY)


CountConfirmFormSet = forms.formset_factory(
    CountConfirmLineForm, extra=0, max_num=500, validate_max=True
)


class CountMetaForm(forms.Form):
    reference = forms.CharField(required=False, max_length=200)
    note = forms.CharField(required=False, max_length=500)
    idempotency_key = IdempotencyKeyField()


class LevelSettingsForm(forms.Form):
    safety_stock = forms.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="Units kept back from reservations."
    )
    low_stock_threshold = forms.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="Available at or below this is low."
    )
    reorder_point = forms.IntegerField(min_value=0, max_value=MAX_QUANTITY)
    max_level = forms.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        required=False,
        help_text="Receipts above this are refused. Empty: no maximum.",
    )
    bucket_count = forms.IntegerField(
        min_value=0,
        max_value=MAX_BUCKETS,
        required=False,
        label="Buckets",
        help_text="For a SKU too hot for one row: split the reservable units over this many "
        "buckets that reservations take from independently. 0: off. Empty: unchanged.",
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    idempotency_key = IdempotencyKeyField()

    def clean_bucket_count(self) -> int:
        value = self.cleaned_data["bucket_count"]
        return self.initial.get("bucket_count", 0) if value is None else value


class TransferForm(forms.Form):
    source_location = LocationChoiceField(queryset=Location.objects.none(), label="From")
    destination_location = LocationChoiceField(queryset=Location.objects.none(), label="To")
    reference = forms.CharField(required=False, max_length=200)
    note = forms.CharField(required=False, max_length=500)
    carrier = forms.CharField(required=False, max_length=100)
    tracking_number = forms.CharField(required=False, max_length=100)
    shipping_cost = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        preselect_single(self.fields["source_location"], locations_changeable(user))
        self.fields["destination_location"].queryset = transfer_destinations(user)

    def clean(self):
        data = super().clean()
        source, destination = data.get("source_location"), data.get("destination_location")
        if source and destination:
            if source.merchant_id != destination.merchant_id:
                self.add_error("destination_location", "Pick a location of the same merchant.")
            elif source.pk == destination.pk:
                self.add_error("destination_location", "Pick a location other than the source.")
        return data


class TransferLineForm(forms.Form):
    sku = forms.CharField(label="SKU or barcode", max_length=64, required=False)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, required=False)

    def clean(self):
        data = super().clean()
        if data.get("sku") and not data.get("quantity"):
            self.add_error("quantity", "Enter how many units to send.")
        if data.get("quantity") and not data.get("sku"):
            self.add_error("sku", "Enter the SKU.")
        return data


TransferLineFormSet = forms.formset_factory(TransferLineForm, extra=5, max_num=200)


def resolve_transfer_lines(formset, merchant_id: int) -> list[tuple[Product, int]]:
    """The filled lines of a valid TransferLineFormSet, products resolved; adds errors to the
    line forms and returns [] when any SKU is unknown."""
    lines, ok = [], True
    for form in formset.forms:
        sku, quantity = form.cleaned_data.get("sku"), form.cleaned_data.get("quantity")
        if not sku:
            continue
        try:
            lines.append((find_product(merchant_id, sku), quantity))
        except forms.ValidationError as error:
            form.add_error("sku", error)
            ok = False
    return lines if ok else []
