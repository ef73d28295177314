"""The nesting depth of JSON text, counted before any recursive decoder sees it."""

from __future__ import annotations

import pytest

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
