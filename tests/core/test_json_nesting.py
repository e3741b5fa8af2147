"""`json_nesting.loads`: refuses documents nested deeper than its limit before parsing them,
agrees with the real depth of any document, and never lets a RecursionError out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core import json_nesting
from apps.core.json_nesting import NestingTooDeep, check_nesting

TEXT = st.text(alphabet=st.sampled_from('ab[]{}"\\/é\n'), max_size=6)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=40,
)


def depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@given(DOCUMENTS, st.integers(min_value=0, max_value=6))
def test_refuses_exactly_the_documents_deeper_than_the_limit(document, limit):
    text = json.dumps(document, ensure_ascii=False)
    if depth(document) > limit:
        with pytest.raises(NestingTooDeep):
            json_nesting.loads(text, max_depth=limit)
    else:
        assert json_nesting.loads(text, max_depth=limit) == document


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        "{" + '"a":{' * 5000 + "1" + "}" * 5001,
        '["]"' + ',["]"' * 2000 + "]" * 2001,  # closing brackets inside strings do not count
        "[" * 5000 + "}" * 5000,
    ],
)
def test_documents_too_deep_for_the_decoder_are_a_value_error(text):
    with pytest.raises(ValueError, match=r"nested deeper than 32|do not match"):
        json_nesting.loads(text)


def test_brackets_in_strings_and_escapes_are_not_nesting():
    text = json.dumps({"note": "[[[[{{{{" * 100 + '\\"]]' * 50, "lines": [[1]] * 500})
    check_nesting(text)
    assert json_nesting.loads(text)["lines"][0] == [1]


def test_malformed_json_within_the_limit_is_left_to_the_decoder():
    with pytest.raises(json.JSONDecodeError):
        json_nesting.loads('{"a": [1, 2}')
