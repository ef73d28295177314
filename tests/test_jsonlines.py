"""The nesting depth of JSON text, counted before any recursive decoder sees it."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nextoffer.errors import InvalidInput
from nextoffer.jsonlines import MAX_DEPTH, check_depth, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": "[[[[{{{"}]}', 3),
        (b'["\\"[[[", "\\\\", [[]]]', 3),  # escaped quotes and backslashes
        (b'["a\\\\\\"[["]', 1),
        ('{"é": ["ü"]}', 2),
    ],
)
def test_brackets_in_strings_do_not_count(text: bytes | str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_deep_text_is_refused_and_the_limit_named() -> None:
    check_depth("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    with pytest.raises(InvalidInput) as info:
        check_depth(b"[" * 10_000 + b"]" * 10_000)
    assert info.value.code == "too-deep" and info.value.extra["maxDepth"] == MAX_DEPTH
    # many shallow objects are not deep
    check_depth(b"[" + b'{"a": [1]},' * 10_000 + b"1]")


def _json_values() -> st.SearchStrategy[object]:
    ints = st.integers(-(2**63), 2**64 - 1)  # what orjson encodes
    leaves = st.one_of(st.none(), st.booleans(), ints, st.text(alphabet='[]{}"\\a'))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=40,
    )


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(value=_json_values(), bound=st.integers(min_value=0, max_value=8))
def test_a_bounded_answer_is_exact_above_the_bound_and_at_most_the_bound_below(
    value: object, bound: int
) -> None:
    """The fast path (few brackets anywhere: the depth cannot exceed the bound) never hides a
    depth over the bound, and the exact walk agrees with the decoded value's depth."""
    text = orjson.dumps(value)
    depth = _depth(value)
    assert nesting_depth(text) == depth
    answer = nesting_depth(text, bound)
    assert answer == depth if depth > bound else answer <= bound
