from decimal import Decimal

from rest_framework import serializers

from apps.api.serializers import RejectUnknownFields, RequestSerializer, Succeeded
from apps.catalog.models import MAX_UNITS, Product

_DIMENSION = {
    "max_digits": 8,
    "decimal_places": 1,
    "min_value": Decimal("0.1"),
    "required": False,
    "allow_null": True,
    "coerce_to_string": True,
}


class ProductSerializer(RejectUnknownFields, Succeeded, serializers.ModelSerializer):
    productId = serializers.CharField(  # camelCase: the name the design documents use
        source="sku",
        read_only=True,
        help_text="The product's id in `products/{productId}` and the inventory calls: its SKU.",
    )
    sku = serializers.CharField(
        max_length=64,
        required=False,
        help_text="Unique per merchant; it cannot change. Left out on create: generated from "
        "the name (e.g. `WIRELESS-MOUSE-7K3QX9`). Left out on update: kept.",
    )
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        default=Decimal("0.00"),
        coerce_to_string=True,
    )
    active = serializers.BooleanField(source="is_active", default=True)
    weight_kg = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        min_value=Decimal("0.001"),
        required=False,
        allow_null=True,
        coerce_to_string=True,
        help_text="Weight of one unit in kilograms (null: not recorded).",
    )
    length_cm = serializers.DecimalField(**_DIMENSION, help_text="Length in centimetres.")
    width_cm = serializers.DecimalField(**_DIMENSION, help_text="Width in centimetres.")
    height_cm = serializers.DecimalField(**_DIMENSION, help_text="Height in centimetres.")

    class Meta:
        model = Product
        fields = [
            "success",
            "productId",
            "sku",
            "name",
            "description",
            "price",
            "barcode",
            "unit",
            "category",
            "brand",
            "weight_kg",
            "length_cm",
            "width_cm",
            "height_cm",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # The model's unique (merchant, sku) is checked by the service, per merchant.
        validators = []

    def validate_sku(self, sku: str) -> str:
        sku = sku.strip()
        if self.instance is not None and sku != self.instance.sku:
            raise serializers.ValidationError(
                "A product's SKU cannot change: create a new product and deactivate this one."
            )
        return sku


class ProductListItemSerializer(ProductSerializer):
    """A product in a list: the same fields but `success`, which belongs to the answer."""

    success = None

    class Meta(ProductSerializer.Meta):
        fields = [name for name in ProductSerializer.Meta.fields if name != "success"]


class ProductFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        required=False, max_length=200, help_text="Part of the SKU or name, or an exact barcode."
    )
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    category = serializers.CharField(required=False, max_length=100, help_text="Exact category.")
    brand = serializers.CharField(required=False, max_length=100, help_text="Exact brand.")


# --- Substitution groups ------------------------------------------------------------------
class SubstitutionMemberSerializer(RequestSerializer):
    sku = serializers.CharField(max_length=64)
    units = serializers.IntegerField(
        min_value=1,
        max_value=MAX_UNITS,
        help_text="Base units one of this product holds: 6 for a 6-pack, 12 for a 12-pack. "
        "A product stands in for another in that proportion (one 12-pack for two 6-packs).",
    )
    priority = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        default=100,
        help_text="Substitutes are tried in this order, lower numbers first.",
    )


class SubstitutionGroupSerializer(RequestSerializer):
    code = serializers.SlugField(max_length=50, help_text="Unique per merchant (a slug).")
    name = serializers.CharField(max_length=200)
    members = SubstitutionMemberSerializer(many=True, min_length=2, max_length=100)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, group):
        return {
            "code": group.code,
            "name": group.name,
            "members": [
                {"sku": m.product.sku, "units": m.units, "priority": m.priority}
                for m in group.members.all()
            ],
            "created_at": serializers.DateTimeField().to_representation(group.created_at),
            "updated_at": serializers.DateTimeField().to_representation(group.updated_at),
        }


class SubstitutionGroupUpdateSerializer(SubstitutionGroupSerializer):
    code = serializers.SlugField(max_length=50, required=False, help_text="Cannot change.")
    name = serializers.CharField(max_length=200, required=False)
    members = SubstitutionMemberSerializer(
        many=True, min_length=2, max_length=100, required=False, help_text="The whole new list."
    )
