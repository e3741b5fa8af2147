from rest_framework import serializers

from apps.alerts.models import Alert


class AlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.choices)
    status = serializers.ChoiceField(
        choices=Alert.Status.choices, help_text="triggered -> acknowledged -> resolved."
    )
    sku = serializers.CharField(source="product.sku", allow_null=True, default=None)
    location = serializers.CharField(source="location.code", allow_null=True, default=None)
    message = serializers.CharField()
    threshold = serializers.IntegerField(allow_null=True)
    available = serializers.IntegerField(
        allow_null=True, help_text="Available units when last evaluated (low stock)."
    )
    reorder_quantity = serializers.IntegerField(
        allow_null=True, help_text="Units to order to get back to max level or reorder point."
    )
    details = serializers.DictField()
    triggered_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username",
        allow_null=True,
        default=None,
        help_text="The signed-in user who acknowledged it (null for an API key or nobody).",
    )
    resolved_at = serializers.DateTimeField(allow_null=True)


class AlertFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, required=False)
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
    open = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: triggered or acknowledged; false: resolved.",
    )
    sku = serializers.CharField(required=False, max_length=64)
    location = serializers.CharField(required=False, max_length=50, help_text="Location code.")
