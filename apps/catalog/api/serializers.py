from decimal import Decimal

from rest_framework import serializers

from apps.api.serializers import RejectUnknownFields, Succeeded
from apps.catalog.models import Product


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
