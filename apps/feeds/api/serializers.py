from rest_framework import serializers

from apps.api.serializers import RequestSerializer
from apps.feeds.models import FeedEvent
from apps.feeds.services.bulk import ADJUST, COUNT
from apps.inventory.models import MAX_QUANTITY
from apps.inventory.services.lines import MAX_LINES

MAX_VERSION = 2**62

MAX_EVENTS = 1000


# --- Bulk stock -----------------------------------------------------------------------------
class BulkLineSerializer(RequestSerializer):
    """Documentation of a bulk line; bulk bodies are validated by a fast path (see views)."""

    sku = serializers.CharField(max_length=64)
    location = serializers.CharField(max_length=50)
    quantity = serializers.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, required=False, help_text="mode=count: counted."
    )
    delta = serializers.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        required=False,
        help_text="mode=adjust: signed change, not zero.",
    )
    expected_version = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, required=False, allow_null=True
    )


class BulkStockRequestSerializer(RequestSerializer):
    mode = serializers.ChoiceField(choices=[COUNT, ADJUST])
    atomic = serializers.BooleanField(
        default=True,
        help_text="true: all lines or none (400 for an unknown SKU or location, 409/412 on "
        "the first refusal). false: every line gets an outcome; lines naming an unknown SKU or "
        "location and refused lines are reported, the others applied.",
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Required for adjust."
    )
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
    lines = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_LINES,
        help_text="BulkLine objects.",
    )


class BulkLineOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    sku = serializers.CharField()
    location = serializers.CharField()
    status = serializers.ChoiceField(choices=["applied", "rejected"])
    code = serializers.CharField()
    detail = serializers.CharField()
    ledger_id = serializers.IntegerField(allow_null=True)
    on_hand = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)


class BulkStockResponseSerializer(serializers.Serializer):
    mode = serializers.CharField()
    atomic = serializers.BooleanField()
    applied = serializers.IntegerField()
    rejected = serializers.IntegerField()
    ledger_ids = serializers.ListField(child=serializers.IntegerField())
    lines = BulkLineOutcomeSerializer(many=True)


# --- Event feed -----------------------------------------------------------------------------
class EventSerializer(RequestSerializer):
    source = serializers.RegexField(
        r"^[\w.:-]+$",
        max_length=64,
        help_text="The sending system, e.g. 'pos-soho' or 'supplier-acme'.",
    )
    event_id = serializers.CharField(max_length=128, help_text="Unique within the source.")
    type = serializers.ChoiceField(choices=FeedEvent.Type.choices)
    sku = serializers.CharField(max_length=64)
    location = serializers.CharField(max_length=50)
    quantity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="Units sold, received or returned (at least 1), or the counted quantity.",
    )
    sequence = serializers.IntegerField(
        min_value=0,
        max_value=2**62,
        required=False,
        allow_null=True,
        help_text="Increasing number within the source (used when occurred_at is absent).",
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When it happened: orders events across sources and against every other "
        "channel's movements (a count is the quantity at this moment).",
    )

    def validate(self, attrs):
        if attrs.get("sequence") is None and attrs.get("occurred_at") is None:
            raise serializers.ValidationError({"sequence": ["Send a sequence or occurred_at."]})
        if attrs["type"] != FeedEvent.Type.COUNT and attrs["quantity"] == 0:
            raise serializers.ValidationError({"quantity": ["Must be at least 1."]})
        return attrs


class EventBatchSerializer(RequestSerializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_EVENTS,
        help_text="Event objects; each is validated on its own and gets its own outcome.",
    )


class EventOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    source = serializers.CharField(allow_null=True)
    event_id = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(
        choices=["applied", "duplicate", "stale", "rejected", "queued"],
        help_text="`queued` in a 202 answer: applied once the database is back.",
    )
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    ledger_ids = serializers.ListField(child=serializers.IntegerField())


class EventBatchResponseSerializer(serializers.Serializer):
    applied = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    stale = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventOutcomeSerializer(many=True)


class EventBatchQueuedSerializer(EventBatchResponseSerializer):
    queued = serializers.IntegerField(help_text="Events queued, applied when the database is back.")
    batch_id = serializers.CharField(
        help_text="Follow it at events/queued/{batch_id}/ (also the Location header)."
    )


class QueuedBatchSerializer(serializers.Serializer):
    id = serializers.CharField(source="batch.id")
    status = serializers.ChoiceField(choices=["queued", "applied"])
    received_at = serializers.DateTimeField(source="batch.received_at", allow_null=True)
    applied_at = serializers.DateTimeField(source="batch.applied_at", allow_null=True)
    applied = serializers.IntegerField(source="batch.applied", allow_null=True)
    duplicate = serializers.IntegerField(source="batch.duplicate", allow_null=True)
    stale = serializers.IntegerField(source="batch.stale", allow_null=True)
    rejected = serializers.IntegerField(source="batch.rejected", allow_null=True)
    results = EventOutcomeSerializer(source="batch.results", many=True, allow_null=True)

    def to_representation(self, instance):
        if instance["status"] == "queued":
            return {
                "id": instance["id"], "status": "queued", "received_at": None,
                "applied_at": None, "applied": None, "duplicate": None, "stale": None,
                "rejected": None, "results": None,
            }  # fmt: skip
        return super().to_representation(instance)


class BulkStockRequestDocSerializer(BulkStockRequestSerializer):
    lines = BulkLineSerializer(many=True, min_length=1, max_length=MAX_LINES)

    class Meta:
        ref_name = "BulkStockRequest"


class EventBatchDocSerializer(EventBatchSerializer):
    events = EventSerializer(many=True, min_length=1, max_length=MAX_EVENTS)

    class Meta:
        ref_name = "EventBatchRequest"
