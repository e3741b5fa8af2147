"""How API responses are chosen and encoded: JSON, encoded by orjson.

DRF's default negotiation parses the Accept header on every request, though the API speaks
only JSON; the common cases (no Accept, `*/*`, `application/json`) are answered directly here
and anything else goes through DRF's rules (so an unacceptable Accept still gets 406).
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_ANY_JSON = frozenset({"", "*/*", "application/json"})
_fallback = JSONEncoder()


class JSONFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if not format_suffix and request.META.get("HTTP_ACCEPT", "") in _ANY_JSON:
            renderer = renderers[0]
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


def _default(value: Any) -> Any:
    """What orjson does not encode itself (Decimal, lazy translations, ...), as DRF would."""
    return _fallback.default(value)


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer (compact, UTF-8), encoded by orjson."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
