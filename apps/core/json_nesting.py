"""JSON from outside with bounded nesting.

Python's `json` decoder recurses once per level of nesting: `[` x 1000 raises RecursionError
(a server error, never a clean refusal), and every level costs stack on the thread parsing it.
`loads` measures the nesting first, without recursion and with string operations that run in
C, and refuses anything deeper than `MAX_DEPTH` with a ValueError: the error every caller of
`json.loads` already treats as malformed input.
"""

from __future__ import annotations

import json
import re
from typing import Any

# No request body or client message of Stockroom nests deeper than 3 levels.
MAX_DEPTH = 32

_ESCAPE = re.compile(r"\\.", re.DOTALL)
# Openers become "(", closers ")", everything else is deleted (non-ASCII UTF-8 bytes included).
_TO_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class NestingTooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed, or its brackets do not
    match (then it is malformed, and measuring its depth is pointless)."""


def check_nesting(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise NestingTooDeep when `text` nests arrays and objects deeper than `max_depth`.

    String contents are dropped (after escapes), the brackets left become parentheses, and
    each pass removes every innermost `()`: balanced brackets of depth d are gone after exactly
    d passes. At most `max_depth` passes, each a C-speed scan; a body with no more than
    `max_depth` opening brackets in all is answered by two counts."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    outside_strings = "".join(_ESCAPE.sub("", text).split('"')[::2])
    parens = outside_strings.encode("utf-8", "ignore").translate(_TO_PARENS, _NOT_BRACKETS)
    too_deep = b"(" * (max_depth + 1)
    for _ in range(max_depth):
        if not parens:
            return
        if too_deep in parens:
            break
        peeled = parens.replace(b"()", b"")
        if peeled == parens:
            raise NestingTooDeep("Its brackets do not match.")
        parens = peeled
    if parens:
        raise NestingTooDeep(f"Arrays and objects are nested deeper than {max_depth} levels.")


def loads(text: str, *, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """`json.loads` for untrusted text: a ValueError (NestingTooDeep or JSONDecodeError) for
    anything it cannot parse safely, never a RecursionError."""
    check_nesting(text, max_depth)
    return json.loads(text, **kwargs)
