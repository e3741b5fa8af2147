from decimal import Decimal

from django.db import models
from django.db.models import Q

SHIPPING_FIGURES = ("weight_kg", "length_cm", "width_cm", "height_cm")


class Product(models.Model):
    """A stock-keeping unit of one merchant."""

    class Unit(models.TextChoices):
        EACH = "each", "Each"
        PACK = "pack", "Pack"
        CASE = "case", "Case"
        KG = "kg", "Kilogram"
        LITRE = "litre", "Litre"
        METRE = "metre", "Metre"

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="products"
    )
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    barcode = models.CharField(max_length=64, blank=True)
    unit = models.CharField(max_length=16, choices=Unit.choices, default=Unit.EACH)
    category = models.CharField(max_length=100, blank=True)
    brand = models.CharField(max_length=100, blank=True)
    # Shipping figures of one unit as sold (empty: not recorded).
    weight_kg = models.DecimalField(
        "weight (kg)", max_digits=10, decimal_places=3, null=True, blank=True
    )
    length_cm = models.DecimalField(
        "length (cm)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    width_cm = models.DecimalField(
        "width (cm)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    height_cm = models.DecimalField(
        "height (cm)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_merchant_sku_uniq"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_nonnegative"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gt": 0}),
                    name=f"product_{name}_positive",
                )
                for name in SHIPPING_FIGURES
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "is_active"], name="product_merchant_active_idx"),
            models.Index(fields=["merchant", "barcode"], name="product_merchant_barcode_idx"),
            models.Index(
                fields=["merchant", "category"],
                name="product_merchant_category_idx",
                condition=~Q(category=""),
            ),
            models.Index(
                fields=["merchant", "brand"],
                name="product_merchant_brand_idx",
                condition=~Q(brand=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


# Upper bound of the base units one product holds (a pallet of cans, say).
MAX_UNITS = 1_000_000


class SubstitutionGroup(models.Model):
    """Products that stand in for one another, in proportion to the base units each holds: a
    12-pack (12 units) stands in for two 6-packs (6 units each), and two 6-packs for a
    12-pack. A reservation line that allows substitutes takes from the other members of its
    product's group when its own SKU is short (see apps/inventory/services/substitutes.py)."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="substitution_groups"
    )
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "code"], name="substitutiongroup_merchant_code_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SubstitutionMember(models.Model):
    """One product of a group. A product belongs to at most one group, so "what stands in for
    this SKU" has one answer: the other members, by priority."""

    group = models.ForeignKey(SubstitutionGroup, on_delete=models.CASCADE, related_name="members")
    product = models.OneToOneField(
        Product, on_delete=models.CASCADE, related_name="substitution_member"
    )
    units = models.PositiveIntegerField(
        help_text="Base units one of this product holds: 6 for a 6-pack, 12 for a 12-pack."
    )
    priority = models.PositiveIntegerField(
        default=100, help_text="Substitutes are tried in this order, lower numbers first."
    )

    class Meta:
        ordering = ["group_id", "priority", "product_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(units__gte=1, units__lte=MAX_UNITS),
                name="substitutionmember_units_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} ({self.units} units)"
