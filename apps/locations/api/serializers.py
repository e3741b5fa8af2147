from decimal import Decimal

from rest_framework import serializers

from apps.api.serializers import RejectUnknownFields, Succeeded
from apps.locations.models import Location


class LocationSerializer(RejectUnknownFields, serializers.ModelSerializer):
    code = serializers.SlugField(max_length=50, help_text="Unique per merchant (a slug).")
    latitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-90"),
        max_value=Decimal("90"),
        required=False,
        allow_null=True,
    )
    longitude = serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("-180"),
        max_value=Decimal("180"),
        required=False,
        allow_null=True,
    )
    priority = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        default=100,
        help_text="Fulfilment priority: lower numbers are allocated first.",
    )
    capacity = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        required=False,
        allow_null=True,
        help_text="Units the location can hold (null: not recorded).",
    )

    class Meta:
        model = Location
        fields = [
            "code",
            "name",
            "kind",
            "address",
            "city",
            "country",
            "timezone",
            "capacity",
            "latitude",
            "longitude",
            "status",
            "priority",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # (merchant, code) uniqueness is checked by the service

    def validate_code(self, code: str) -> str:
        if self.instance is not None and code != self.instance.code:
            raise serializers.ValidationError(
                "A location's code cannot change: create a new location instead."
            )
        return code


class LocationFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200)
    kind = serializers.ChoiceField(choices=Location.Kind.choices, required=False)
    status = serializers.ChoiceField(choices=Location.Status.choices, required=False)
    city = serializers.CharField(required=False, max_length=100, help_text="Exact city.")
    country = serializers.CharField(
        required=False, max_length=2, help_text="ISO 3166-1 alpha-2 code."
    )


# --- Warehouses: locations of kind warehouse, in the specification's fields ----------------
class WarehouseSerializer(RejectUnknownFields, Succeeded):
    """A warehouse as the specification's calls name it (camelCase), over a location of kind
    warehouse: `warehouseId` is its code, `location` its address."""

    warehouseId = serializers.CharField(  # camelCase: the name the design documents use
        source="code",
        read_only=True,
        help_text="The warehouse's id in `warehouses/{warehouseId}` and the inventory calls: its "
        "location code, made from the name when it is created (`main-warehouse`, "
        "`main-warehouse-2`, ...).",
    )
    name = serializers.CharField(max_length=200)
    location = serializers.CharField(
        source="address",
        required=False,
        allow_blank=True,
        help_text="Where it is: its address as text.",
    )
    status = serializers.ChoiceField(
        choices=Location.Status.choices,
        required=False,
        help_text="Only active warehouses take reservations (default active).",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class WarehouseListItemSerializer(WarehouseSerializer):
    """A warehouse in a list: the same fields but `success`, which belongs to the answer."""

    success = None


class WarehouseFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200)
    status = serializers.ChoiceField(choices=Location.Status.choices, required=False)
