"""How API responses are chosen and encoded: JSON, encoded by orjson.

DRF's default negotiation parses the Accept header on every request, though most endpoints
speak only JSON; the common cases (no Accept, `*/*`, `application/json`, no `?format=`) get
the view's first renderer directly here, and anything else goes through DRF's rules (an
unacceptable Accept still gets 406, `Accept: text/csv` or `?format=csv` a report's CSV).
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
        if (
            not format_suffix
            and request.META.get("HTTP_ACCEPT", "") in _ANY_JSON
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
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
        try:
            return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # what orjson cannot encode at all (an integer past 64 bits)
            return super().render(data, accepted_media_type, renderer_context)
