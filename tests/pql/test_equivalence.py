"""Property: the generated code and the reference interpreter agree on every value.

Hypothesis builds well-typed expressions over a fixed vocabulary of paths, and profiles whose
values are often missing, null, empty or of the wrong type, with timestamps on the edges of
the time windows.  Both back ends must return the same value (or both exceed the work bound).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextoffer.pql import PqlError, WorkExceeded, compile_expression

from .conftest import NOW, make_env

# ---- expressions ------------------------------------------------------------------------------

NUM_PATHS = ["n1", "n2", "m.n3", "zz.missing"]
STR_PATHS = ["s1", "s2", "m.s3"]
TS_PATHS = ["t1", "t2"]
num_lit = st.one_of(st.integers(-5, 5), st.sampled_from(["0.5", "2.25", "1000000"])).map(str)
str_lit = st.sampled_from(['"a"', '"Ab"', '""', '"ab"', '"b%"', '"\\"q\\""'])


def _nums(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from("+-*/%"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"-{x}"),
        st.sampled_from(
            [
                "nums.sum()",
                "nums.count()",
                "nums.max()",
                "nums.min()",
                "nums.average()",
                "nums.head()",
                "objs.map(o => o.v).sum()",
                "(select o from objs where o.v > 1).count()",
                "nums.distinct().count()",
                "currentMonth()",
                "t1.getDayOfMonth()",
            ]
        ),
    )


num = st.recursive(st.one_of(num_lit, st.sampled_from(NUM_PATHS)), _nums, max_leaves=4)
string = st.one_of(str_lit, st.sampled_from(STR_PATHS), st.just("objs.head().k"))
time_word = st.sampled_from(["now", "today", "yesterday", "date(2026, 3, 1)", "t2", "last month"])
unit = st.sampled_from(["hours", "days", "months", "weeks", "minutes"])


def _atoms() -> st.SearchStrategy[str]:
    cmp = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.tuples(num, cmp, num).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(STR_PATHS), cmp, string).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(
            st.sampled_from(STR_PATHS),
            st.sampled_from(["equals", "contains", "startsWith", "doesNotEndWith", "notEqualTo"]),
            str_lit,
            st.sampled_from(["", ", false", ", true"]),
        ).map(lambda t: f"{t[0]}.{t[1]}({t[2]}{t[3]})"),
        st.tuples(st.sampled_from(STR_PATHS), str_lit).map(lambda t: f"{t[0]} like {t[1]}"),
        st.tuples(st.sampled_from(STR_PATHS + NUM_PATHS + ["objs", "nums"])).map(
            lambda t: f"{t[0]}.isNull()"
        ),
        st.tuples(
            num, st.sampled_from(["in", "notIn"]), st.sampled_from(["[1, 2, 3]", "nums"])
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(STR_PATHS), st.sampled_from(["in", "notIn"])).map(
            lambda t: f'{t[0]} {t[1]} ["a", "ab", ""]'
        ),
        st.sampled_from(
            [
                'strs.includes("a")',
                'strs.intersects(["a", "x"])',
                'strs.subsetOf(["a", "b", "c"])',
                "exists o from objs where o.v > 1",
                'forall o from objs where o.k = "a"',
                'inSegment("s1")',
                'segmentMembership.get("ups").get("s2").status in ["realized", "existing"]',
                'exists e from xEvent where e.eventType = "buy"',
                'xEvent.eventType = "buy"',
                "flag",
                "not flag",
                "flag = true",
            ]
        ),
        st.tuples(st.sampled_from(TS_PATHS), time_word).map(lambda t: f"{t[0]} occurs {t[1]}"),
        st.tuples(st.sampled_from(TS_PATHS), st.sampled_from(["before", "after"]), time_word).map(
            lambda t: f"{t[0]} occurs {t[1]} {t[2]}"
        ),
        st.tuples(
            st.sampled_from(TS_PATHS),
            cmp,
            st.integers(0, 30),
            unit,
            st.sampled_from(["before", "after"]),
            time_word,
        ).map(lambda t: f"{t[0]} occurs {t[1]} {t[2]} {t[3]} {t[4]} {t[5]}"),
        st.tuples(st.sampled_from(TS_PATHS), time_word, time_word).map(
            lambda t: f"{t[0]} occurs between {t[1]} and {t[2]}"
        ),
    )


def _bools(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, inner, inner).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        inner.map(lambda x: f"exists o from objs where ({x})"),
        inner.map(lambda x: f"let q = n1 in ({x})"),
    )


boolean = st.recursive(_atoms(), _bools, max_leaves=6)
expression = st.one_of(
    boolean,
    num,
    st.tuples(boolean, num, num).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
    st.sampled_from(
        ["select o from objs where o.v > 0", "nums.filter(x => x > 0)", "strs.distinct()"]
    ),
)

# ---- data -------------------------------------------------------------------------------------

EDGES = [
    timedelta(0),
    timedelta(milliseconds=1),
    -timedelta(milliseconds=1),
    timedelta(days=1),
    -timedelta(days=1),
    timedelta(hours=24),
    -timedelta(days=7),
    -timedelta(days=31),
    timedelta(days=14, hours=3),
    -timedelta(hours=12, minutes=30),  # midnight today
]
timestamp = st.one_of(
    st.sampled_from(EDGES).map(lambda d: (NOW + d).isoformat().replace("+00:00", "Z")),
    st.sampled_from(EDGES).map(lambda d: NOW + d),
    st.sampled_from([None, "garbage", 17, "2026-03-01"]),
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 2.25, -1.5, 1e6]),
    st.sampled_from(["a", "Ab", "", "ab", "b%", 'b"']),
)
obj = st.fixed_dictionaries({}, optional={"v": scalar, "k": scalar})
profile = st.fixed_dictionaries(
    {},
    optional={
        "n1": scalar,
        "n2": scalar,
        "s1": scalar,
        "xdm:s2": scalar,
        "m": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"n3": scalar, "s3": scalar})),
        "t1": timestamp,
        "t2": timestamp,
        "flag": scalar,
        "nums": st.one_of(scalar, st.lists(scalar, max_size=4)),
        "strs": st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "c", None]), max_size=4)),
        "objs": st.one_of(st.none(), st.lists(obj, max_size=3), obj),
    },
)
events = st.lists(
    st.fixed_dictionaries(
        {"timestamp": timestamp}, optional={"eventType": st.sampled_from(["buy", "view"])}
    ),
    max_size=3,
)
segments = st.dictionaries(
    st.sampled_from(["s1", "s2"]), st.sampled_from(["realized", "existing", "exited"])
)


def _outcome(fn: Any) -> Any:
    try:
        return ("value", fn())
    except WorkExceeded:
        return ("work",)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(text=expression, profile=profile, events=events, segments=segments)
def test_compiled_equals_interpreted(
    text: str, profile: dict[str, Any], events: list[dict[str, Any]], segments: dict[str, str]
) -> None:
    try:
        compiled = compile_expression(text)
    except PqlError as exc:  # the generator only writes well-typed PQL
        raise AssertionError(f"generated text did not compile: {text!r}: {exc}") from exc
    env = make_env(profile, events=events, segments=segments)
    fast = _outcome(lambda: compiled.evaluate(env))
    slow = _outcome(lambda: compiled.interpret(env))
    assert fast == slow, (text, compiled.source)
    if fast[0] == "value":
        assert type(fast[1]) is type(slow[1]), text
