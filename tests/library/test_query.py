"""List-query semantics (pure): filters, sorts, cursors, and paging invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nextoffer.errors import InvalidInput
from nextoffer.library.query import (
    Cursor,
    DocTable,
    ListQuery,
    paginate,
    parse_filter,
    parse_filters,
    parse_orderby,
    split_expressions,
)

DOC = {
    "id": "o1",
    "name": "Summer Sale",
    "status": "approved",
    "rank": {"priority": 10},
    "exdFunction": True,
    "modified": "2024-05-01T10:00:00.000+00:00",
    "tags": ["t1", "t2"],
    "representations": [{"placement": "p1"}, {"placement": "p2"}],
    "characteristics": {"discount": "15"},
    "description": None,
}


@pytest.mark.parametrize(
    ("expr", "matches"),
    [
        ("name==Summer Sale", True),
        ("name==summer sale", False),
        ("name!=Summer Sale", False),
        ("!name==Summer Sale", False),
        ("name~summer.*", True),
        ("name~summer", False),  # full match only
        ("rank.priority>9", True),
        ("rank.priority>=10", True),
        ("rank.priority<10", False),
        ("rank.priority==10.0", True),
        ("rank.priority==ten", False),
        ("exdFunction==true", True),
        ("exdFunction==TRUE", True),
        ("exdFunction==false", False),
        ("modified>2024-05-01T09:00:00Z", True),
        ("modified<2024-05-01T12:00:00+02:00", False),  # 10:00 UTC, compared as instants
        ("modified>2024-04", True),  # not a date-time: compared as strings
        ("tags==t2", True),
        ("tags!=t2", False),
        ("tags~T.", True),
        ("representations.placement==p2", True),
        ("representations.placement==p3", False),
        ("characteristics.discount>9", True),  # numeric strings compare as numbers
        ("characteristics.discount~1\\d", True),
        ("name", True),
        ("description", False),  # null does not count as having it
        ("!description", True),
        ("missing.path==x", False),
        ("missing.path!=x", True),
        ("!missing", True),
    ],
)
def test_filter_semantics(expr: str, matches: bool) -> None:
    assert parse_filter(expr).matches(DOC) is matches


def test_comma_joined_and_repeated_filters_are_anded() -> None:
    assert split_expressions("name!=abc,id~.*1234.*,description") == [
        "name!=abc",
        "id~.*1234.*",
        "description",
    ]
    assert split_expressions("id~a{1,3}") == ["id~a{1,3}"]  # a comma inside a value stays
    filters = parse_filters(["name==Summer Sale,status==approved", "rank.priority>5"])
    assert len(filters) == 3 and all(f.matches(DOC) for f in filters)


@pytest.mark.parametrize("expr", ["", "==x", "na me==x", "name=~x", "name~(", ".name", "name..x"])
def test_bad_filters_raise_invalid_input(expr: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_filter(expr)
    assert info.value.errors[0].parameter == "property"


def test_sorting_puts_numbers_then_strings_then_missing() -> None:
    docs = [
        {"id": "a", "x": "b"},
        {"id": "b"},
        {"id": "c", "x": 2},
        {"id": "d", "x": "a"},
        {"id": "e", "x": 1.5},
        {"id": "f", "x": None},
    ]
    asc = [r[1] for r in DocTable(docs).rank(parse_orderby("x"), ())]
    assert asc == ["e", "c", "d", "a", "b", "f"]
    desc = [r[1] for r in DocTable(docs).rank(parse_orderby("-x"), ())]
    assert desc == ["b", "f", "a", "d", "c", "e"]  # reversed; ties still by id ascending


def test_orderby_accepts_plus_and_spaces() -> None:
    keys = parse_orderby(" +name , -rank.priority")
    assert [(k.path, k.descending) for k in keys] == [
        (("name",), False),
        (("rank", "priority"), True),
    ]


docs_strategy = st.lists(
    st.fixed_dictionaries(
        {"id": st.text("abcdef", min_size=1, max_size=6)},
        optional={
            "n": st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False),
            "s": st.sampled_from(["x", "y", "z", "10", "2024-01-01T00:00:00Z"]),
            "b": st.booleans(),
            "l": st.lists(st.sampled_from(["x", "y"]), max_size=3),
        },
    ),
    max_size=40,
    unique_by=lambda d: d["id"],
)
orders = st.sampled_from(["n", "-n", "s,-n", "-s,n", "b,-s", "l", "-modified", "n,s,b"])
filters = st.lists(
    st.sampled_from(
        ["n>0", "!n<=1", "s==x", "s!=y", "b==true", "l==x", "n", "!s", "s~[xy]", "n>=-1.5"]
    ),
    max_size=3,
)


def walk(docs: list[dict], order: str, filters: list[str], limit: int) -> list[str]:
    query = ListQuery(parse_filters(filters), parse_orderby(order), limit)
    ranked = DocTable(docs).rank(query.order, query.filters)
    ids: list[str] = []
    page = paginate(ranked, query)
    ids += [d["id"] for d in page.items]
    while page.next_cursor:
        query = ListQuery(query.filters, query.order, limit, Cursor.decode(page.next_cursor))
        page = paginate(ranked, query)
        ids += [d["id"] for d in page.items]
    return ids


@settings(max_examples=300, deadline=None)
@given(docs_strategy, orders, filters, st.integers(1, 12), st.randoms())
def test_paging_sees_every_match_once_in_order(docs, order, filters, limit, rnd) -> None:
    full = [r[1] for r in DocTable(docs).rank(parse_orderby(order), parse_filters(filters))]
    assert walk(docs, order, filters, limit) == full
    shuffled = list(docs)
    rnd.shuffle(shuffled)
    assert walk(shuffled, order, filters, limit) == full  # order never depends on input order
    assert len(set(full)) == len(full)
    every = parse_filters(filters)
    assert set(full) == {d["id"] for d in docs if all(f.matches(d) for f in every)}


@settings(max_examples=300, deadline=None)
@given(docs_strategy, st.sampled_from(["n>0", "s==x", "l==x", "b==false", "n", "s~x|y", "n<=2.5"]))
def test_negation_is_the_complement(docs, expr: str) -> None:
    positive = parse_filter(expr)
    negative = parse_filter("!" + expr)
    for doc in docs:
        assert positive.matches(doc) != negative.matches(doc)
    if "==" in expr:
        differs = parse_filter(expr.replace("==", "!="))
        for doc in docs:
            assert differs.matches(doc) != positive.matches(doc)


@settings(max_examples=200, deadline=None)
@given(docs_strategy, st.integers(1, 10))
def test_prev_cursors_walk_back_over_the_same_pages(docs, limit: int) -> None:
    order = parse_orderby("s,-n")
    ranked = DocTable(docs).rank(order, ())
    pages = []
    query = ListQuery((), order, limit)
    page = paginate(ranked, query)
    pages.append(page)
    while page.next_cursor:
        page = paginate(ranked, ListQuery((), order, limit, Cursor.decode(page.next_cursor)))
        pages.append(page)
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        assert back.prev_cursor is not None
        back = paginate(ranked, ListQuery((), order, limit, Cursor.decode(back.prev_cursor)))
        assert [d["id"] for d in back.items] == [d["id"] for d in expected.items]
    assert back.prev_cursor is None


@pytest.mark.parametrize(
    "token",
    ["", "!!!", "e30", "eyJvIjoibmFtZSIsImsiOltbMCwieCJdXSwiaSI6ImEiLCJzIjoiYWZ0ZXIifQ"],
)
def test_forged_cursors_are_refused(token: str) -> None:
    # the last one claims a number-rank key holding a string
    with pytest.raises(InvalidInput):
        Cursor.decode(token)


def test_cursor_round_trip() -> None:
    cursor = Cursor("-modified", ((1, "2024-01-01"), (0, 3.5), (2, "")), "dps:tag:1", "before")
    assert Cursor.decode(cursor.encode()) == cursor
