"""The JSON parser of every API view (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from apps.core import json_nesting


class JSONBodyParser(JSONParser):
    """DRF's JSON parser (strict: no NaN or Infinity), refusing documents nested deeper than
    `json_nesting.MAX_DEPTH` before the decoder recurses into them: 400 `malformed_request`."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from error
        try:
            return json_nesting.loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error
