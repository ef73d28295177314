"""PQL's functions and methods as data: what each accepts, what it returns, which helper runs it.

The checker reads a signature to type a call; the code generator and the interpreter both call
the named helper in :mod:`.runtime`.  Adding a method is adding a row here (and its helper).

Parameter kinds: ``string`` (a string value), ``flag`` (a ``true``/``false`` literal:
case-sensitive), ``regex`` / ``like`` (a string literal pattern, compiled at compile time by
:mod:`.patterns`), ``int`` (a number), ``any``, ``collection``, ``lambda`` (``x => ...``),
``key`` (a lambda or a path relative to each item).
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import BOOL, LIST, MAP, NUM, STR, Type, list_of


@dataclass(frozen=True, slots=True)
class Fn:
    name: str
    target: str | None  # None (plain function) | string | datetime | collection | map | any
    params: tuple[str, ...]
    optional: int  # how many trailing params may be left out
    result: Type | str  # a Type, or "elem" (item of target), "same" (list like target)
    helper: str
    work: bool = False  # the helper takes (and charges) the per-evaluation work counter


def _rows(*fns: Fn) -> dict[str, Fn]:
    return {fn.name: fn for fn in fns}


_STRING_TESTS = (
    ("equals", "s_equals"),
    ("notEqualTo", "s_not_equal"),
    ("contains", "s_contains"),
    ("doesNotContain", "s_not_contains"),
    ("startsWith", "s_starts"),
    ("doesNotStartWith", "s_not_starts"),
    ("endsWith", "s_ends"),
    ("doesNotEndWith", "s_not_ends"),
)

METHODS: dict[str, Fn] = _rows(
    *(
        Fn(name, "string", ("string", "flag"), 1, BOOL, helper, True)
        for name, helper in _STRING_TESTS
    ),
    Fn("matches", "string", ("regex", "flag"), 1, BOOL, "full_match", True),
    Fn("like", "string", ("like", "flag"), 1, BOOL, "full_match", True),
    Fn("regexGroup", "string", ("regex", "int", "flag"), 1, STR, "regex_group", True),
    Fn("isNull", "any", (), 0, BOOL, "is_null"),
    Fn("isNotNull", "any", (), 0, BOOL, "is_not_null"),
    Fn("get", "map", ("any",), 0, Type("any"), "get", True),
    Fn("keys", "map", (), 0, list_of(STR), "keys", True),
    Fn("values", "map", (), 0, LIST, "values", True),
    Fn("getMonth", "datetime", (), 0, NUM, "get_month"),
    Fn("getYear", "datetime", (), 0, NUM, "get_year"),
    Fn("getDayOfMonth", "datetime", (), 0, NUM, "get_day_of_month"),
    Fn("count", "collection", (), 0, NUM, "count", True),
    Fn("sum", "collection", (), 0, NUM, "sum_", True),
    Fn("average", "collection", (), 0, NUM, "average", True),
    Fn("min", "collection", (), 0, "elem", "min_", True),
    Fn("max", "collection", (), 0, "elem", "max_", True),
    Fn("head", "collection", (), 0, "elem", "head", True),
    Fn("distinct", "collection", (), 0, "same", "distinct", True),
    Fn("includes", "collection", ("any",), 0, BOOL, "includes", True),
    Fn("intersects", "collection", ("collection",), 0, BOOL, "intersects", True),
    Fn("intersection", "collection", ("collection",), 0, "same", "intersection", True),
    Fn("subsetOf", "collection", ("collection",), 0, BOOL, "subset_of", True),
    Fn("supersetOf", "collection", ("collection",), 0, BOOL, "superset_of", True),
    Fn("filter", "collection", ("lambda",), 0, "same", "select", True),
    Fn("map", "collection", ("lambda",), 0, LIST, "map_", True),
    Fn("groupBy", "collection", ("lambda",), 0, MAP, "group_by", True),
    Fn("topN", "collection", ("key", "int"), 0, "same", "top_n", True),
    Fn("bottomN", "collection", ("key", "int"), 0, "same", "bottom_n", True),
)

# Plain functions.  ``if`` and ``date`` are shaped by the checker itself; listed for messages.
FUNCTIONS: dict[str, Fn] = _rows(
    Fn("inSegment", None, ("string",), 0, BOOL, "in_segment"),
    Fn("currentMonth", None, (), 0, NUM, "get_month"),
    Fn("currentYear", None, (), 0, NUM, "get_year"),
    Fn("currentDayOfMonth", None, (), 0, NUM, "get_day_of_month"),
    Fn("if", None, ("any", "any", "any"), 0, Type("any"), ""),
    Fn("date", None, ("int", "int", "int"), 0, Type("datetime"), ""),
)
