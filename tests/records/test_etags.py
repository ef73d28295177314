"""`ETagCondition`: the one reading of If-Match / If-None-Match values and the one comparison."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.records.etags import ETagCondition


def header_named(header: str, etag: int) -> bool:
    """How both headers were compared before they were parsed once (kept as the reference)."""
    for part in header.split(","):
        token = part.strip()
        if token == "*":
            return True
        if token.removeprefix("W/").strip('"') == str(etag):
            return True
    return False


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ('"3"', {3}),
        ("3", {3}),
        ('W/"3"', {3}),
        (' "1" , W/"3",7 ', {1, 3, 7}),
        ('"03"', set()),  # not how an etag of ours is spelled
        ('"abc"', set()),
        ("", set()),
    ],
)
def test_named_etags(header: str, named: set[int]) -> None:
    condition = ETagCondition.parse(header)
    assert condition.etags == named and not condition.any and condition.header == header
    assert all(condition.matches(e) for e in named)
    assert not condition.matches(99)


def test_a_star_matches_any_etag() -> None:
    for header in ("*", '"1", *'):
        assert ETagCondition.parse(header).matches(12345)


def test_of_is_what_a_client_sends_back() -> None:
    assert ETagCondition.of(4) == ETagCondition.parse('"4"')


tokens = st.one_of(
    st.integers(0, 30).map(str),
    st.sampled_from(["*", "W/", '"', " ", ",", "0", "-1", "+2", "٣"]),
    st.text(max_size=4),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(tokens, max_size=6).map("".join), st.integers(0, 30))
def test_parsing_once_answers_as_the_header_text_did(header: str, etag: int) -> None:
    assert ETagCondition.parse(header).matches(etag) == header_named(header, etag)
