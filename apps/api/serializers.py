"""Request bodies: a field the endpoint does not know is an error, never silently dropped.

A misspelled `expected_verison` would otherwise apply a change unconditionally, and `"ttl": 5`
would hold a reservation for the default TTL. Every serializer that reads a request body
derives from `RequestSerializer` (or mixes in `RejectUnknownFields`); nested serializers and
list items are checked the same way, so errors name the path (`lines.0.expected_verison`).
Fields a serializer only writes out (`created_at`) are known and ignored, as DRF does, so a
read object can be sent back. The OpenAPI schema marks these bodies `additionalProperties:
false` (apps.api.schema).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers


def unknown_field_message(name: str, known: Iterable[str]) -> str:
    """'Unknown field.' with the closest known name (a misspelling, or a shortening such as
    `ttl` for `ttl_seconds`), or the list of known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1) or [
        field for field in known if name and (field.startswith(name) or name.startswith(field))
    ]
    if close:
        return f"Unknown field. Did you mean '{close[0]}'?"
    return f"Unknown field. This object takes: {', '.join(known)}."


class RejectUnknownFields:
    """Mix into a Serializer (before it in the bases): keys of the input that are not fields
    are 400, reported with the other errors of the same object."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            writable = [name for name, field in self.fields.items() if not field.read_only]
            unknown = {
                str(name): [unknown_field_message(str(name), writable)]
                for name in data
                if name not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**unknown, **error.detail}) from error
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class RequestSerializer(RejectUnknownFields, serializers.Serializer):
    """Base of every request body serializer."""


class NoBodySerializer(RequestSerializer):
    """The body of an action that takes none: nothing, `{}`, or a 400 naming each field."""


class Succeeded(serializers.Serializer):
    """Mix into an answer's serializer: `"success": true` beside the object, as the
    specification's calls answer."""

    success = serializers.SerializerMethodField(
        help_text="Always true: the call succeeded (a refusal is application/problem+json)."
    )

    def get_success(self, instance: Any) -> bool:
        return True
