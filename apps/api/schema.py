"""OpenAPI: the problem+json error body, documented on every operation, and shared headers."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from apps.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from apps.api.problems import PROBLEM_CONTENT_TYPE
from apps.api.serializers import RejectUnknownFields
from apps.api.tenancy import MERCHANT_HEADER


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details. Domain refusals add their figures (e.g. `lines` with
    `requested` and `available` for insufficient stock, `current` for a stale version)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Offending fields (dotted paths) and their messages.",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid request (see `fields`), or a missing Idempotency-Key",
    401: "Missing or invalid credentials",
    403: "Credentials may not do this (read-only key, viewer)",
    404: "Not found (objects of other merchants do not exist)",
    406: "Unsupported Accept header",
    409: "Refused by the current state of stock (insufficient stock, wrong state, ...)",
    412: "Stale version (If-Match / expected_version): `current` holds the current figures",
    413: "Request body larger than the server accepts (`request_too_large`)",
    415: "Unsupported content type",
    422: "Idempotency-Key reused with a different request",
    429: "Throttled: retry after the Retry-After header's seconds",
    503: "The database failed (`code` names how: `database_unavailable`, `deadlock_detected`, "
    "`lock_timeout`, ...): retry after the Retry-After header's seconds, with the same "
    "Idempotency-Key",
}
READ_ERRORS = (400, 401, 403, 404, 406, 429, 503)
WRITE_ERRORS = (*READ_ERRORS, 409, 412, 413, 415, 422)


class ApiAutoSchema(AutoSchema):
    """Adds the problem+json responses every operation can return, and marks request bodies
    that refuse unknown fields `additionalProperties: false`."""

    def _postprocess_serializer_schema(self, schema, serializer, direction):
        schema = super()._postprocess_serializer_schema(schema, serializer, direction)
        if direction == "request" and isinstance(serializer, RejectUnknownFields):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = READ_ERRORS if self.method in ("GET", "HEAD", "OPTIONS") else WRITE_ERRORS
        for code in codes:
            if str(code) in responses:
                continue
            response = self._get_response_for_code(
                ProblemSerializer,
                str(code),
                media_types=[PROBLEM_CONTENT_TYPE],
                direction=direction,
            )
            response["description"] = ERROR_DESCRIPTIONS[code]
            responses[str(code)] = response
        return responses

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        parameters.append(MERCHANT_PARAMETER)
        return parameters


MERCHANT_PARAMETER = OpenApiParameter(
    MERCHANT_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Session authentication only: the merchant code to act for, when your account "
    "belongs to several merchants (or use the `merchant` query parameter). API keys act for "
    "their own merchant and ignore it.",
)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per logical request (e.g. a UUID), kept at least 24 h. A retry "
    "with the same key and request returns the first response with no second effect; the same "
    "key with a different request is 422.",
)
OPTIONAL_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional here: makes the write safe to retry (same semantics as on stock "
    "changes).",
)
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The stock level version you read (its ETag, e.g. "7"); a stale version is '
    "412 with the current figures. Only for requests with one line.",
)


PATH_EXAMPLES = {
    "sku": "TEE-BLK-M",
    "location": "main-wh",
    "code": "main-wh",
    "product_id": "TEE-BLK-M",
    "warehouse_id": "main-wh",
}


def add_path_examples(result, generator, request, public):
    """POSTPROCESSING_HOOK: example values for SKU and location path parameters (those of the
    demo data), so the docs' "Try it out" and generated tests start from real objects."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in PATH_EXAMPLES:
                    parameter.setdefault("example", PATH_EXAMPLES[parameter["name"]])
    return result
