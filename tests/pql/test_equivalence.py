"""Property: the generated code and the reference interpreter agree on every value.

Hypothesis builds well-typed expressions over a fixed vocabulary of paths, and profiles whose
values are often missing, null, empty or of the wrong type, with timestamps on the edges of
the time windows.  Both back ends must return the same value (or both exceed the work bound).

The generator makes a point of the shapes where the generated code specialises and the
interpreter does not: booleans against 0 and 1 (Python's ``False == 0``), mixed-type literal
lists, date-time literals with a time of day (and offsets), comparisons between two paths
(of known and unknown types), and data under ``xdm:``-prefixed keys (profile, nested objects,
context data and its schema ref).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nextoffer.pql import PqlError, WorkExceeded, compile_expression
from nextoffer.pql.limits import MAX_MATCH_INPUT

from .conftest import NOW, make_env

# ---- expressions ------------------------------------------------------------------------------

NUM_PATHS = ["n1", "n2", "m.n3", "zz.missing"]
STR_PATHS = ["s1", "s2", "m.s3"]
TS_PATHS = ["t1", "t2"]
REF = "_xdm.context.additionalParameters;version=1"
CTX = "@{" + REF + "}"
num_lit = st.one_of(
    st.integers(-5, 5), st.sampled_from(["0.5", "2.25", "1000000", "0.0", "1.0"])
).map(str)
zero_one = st.sampled_from(["0", "1", "0.0", "1.0"])
# literal lists of mixed kinds (and one that is all strings, one all numbers: the
# specialised forms must keep to their own kind)
mixed_list = st.sampled_from(
    [
        '[1, "a"]',
        '[0, "", true]',
        '[2.5, "2.5", false]',
        '["a", 1.0, ""]',
        '[1, "a", n1]',
        "[true, false]",
        '["a", "1"]',
        "[1, 2.5]",
    ]
)
# date-time literals near the data's timestamps (NOW is 2026-03-15T12:30:00Z), with times
dt_lit = st.sampled_from(
    [
        '"2026-03-15T12:30:00Z"',
        '"2026-03-15T14:30:00+02:00"',
        '"2026-03-15T12:29:59.999Z"',
        '"2026-03-15T12:30:00.001Z"',
        '"2026-03-15T00:00:00Z"',
        '"2026-03-14T23:59:59Z"',
        '"2026-03-16T12:30:00-03:00"',
        '"2026-03-15"',
    ]
)
str_lit = st.sampled_from(['"a"', '"Ab"', '""', '"ab"', '"b%"', '"\\"q\\""'])
# like patterns: literal text and % (matched without a regex), _ and case-insensitive (RE2)
like_lit = st.sampled_from(
    ['"%a%"', '"a_"', '"%"', '"%%"', '"_%b"', '"A%b"', '"%a%b%"', '"%b"', '"a\\\\%%"', '"a\\\\_%"']
)


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
time_word = st.one_of(
    st.sampled_from(["now", "today", "yesterday", "date(2026, 3, 1)", "t2", "last month"]),
    dt_lit,
)
unit = st.sampled_from(["hours", "days", "months", "weeks", "minutes"])


def _specialised() -> st.SearchStrategy[str]:
    """The shapes where the generated code specialises and the interpreter stays generic."""
    cmp = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        # booleans against 0 and 1, either way round, and through literal lists
        st.tuples(st.just("b1"), cmp, zero_one).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.sampled_from(["b1 = 0", "b1 = 1", "0 = b1", "1 = b1", "b1 = 1.0", "b1 != 0"]),
        st.tuples(zero_one, cmp, st.just("b1")).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["in", "notIn"]), st.sampled_from(["[0, 1]", "[1.0]"])).map(
            lambda t: f"b1 {t[0]} {t[1]}"
        ),
        # mixed-type literal lists (`u1` has no type of its own, `mx` is often a list item)
        st.tuples(st.sampled_from(["mx", "u1"]), st.sampled_from(["in", "notIn"]), mixed_list).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        # path against path: known kinds, unknown kinds, date-times
        st.tuples(st.sampled_from(NUM_PATHS), cmp, st.sampled_from(NUM_PATHS)).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(st.sampled_from(["u1", "u2", "m.u3"]), cmp, st.sampled_from(["u1", "u2"])).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(
            st.sampled_from([*TS_PATHS, "xEvent.timestamp"]), cmp, st.sampled_from(TS_PATHS)
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(TS_PATHS), cmp, dt_lit).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(dt_lit, cmp, st.sampled_from(TS_PATHS)).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        # context data (its keys and schema ref perhaps `xdm:`-prefixed)
        st.tuples(st.sampled_from(["channel", "m.k"]), cmp, string).map(
            lambda t: f"{CTX}.{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(cmp, num).map(lambda t: f"{CTX}.n {t[0]} {t[1]}"),
        st.sampled_from(
            [
                f'{CTX}.items.sku in ["A", "B"]',
                f'exists i from {CTX}.items where i.sku = "A"',
                f"{CTX}.channel.isNull()",
                f'{CTX}.m.k.startsWith("a")',
            ]
        ),
        st.tuples(
            st.sampled_from(TS_PATHS), st.sampled_from(["before", "after", "on"]), dt_lit
        ).map(lambda t: f"{t[0]} occurs {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(TS_PATHS), cmp, st.integers(0, 2), unit, dt_lit).map(
            lambda t: f"{t[0]} occurs {t[1]} {t[2]} {t[3]} before {t[4]}"
        ),
        st.tuples(st.sampled_from(TS_PATHS), dt_lit, dt_lit).map(
            lambda t: f"{t[0]} occurs between {t[1]} and {t[2]}"
        ),
    )


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
        st.tuples(
            st.sampled_from([*STR_PATHS, "(s1 + s2)"]),
            like_lit,
            st.sampled_from(["", ", false", ", true"]),
        ).map(lambda t: f"{t[0]}.like({t[1]}{t[2]})"),
        st.tuples(
            st.sampled_from([*STR_PATHS, "(s1 + s2)"]),
            st.sampled_from(['matches("a.*")', 'regexGroup("(b+)", 1) = "b"', 'contains("ab")']),
        ).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(st.sampled_from(STR_PATHS), st.sampled_from(STR_PATHS)).map(
            lambda t: f"{t[0]}.endsWith({t[1]}, false)"
        ),
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
        _specialised(),
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
        [
            "select o from objs where o.v > 0",
            "nums.filter(x => x > 0)",
            "strs.distinct()",
            f'select c from {CTX} where c.channel = "web"',
            f"{CTX}.channel",
            f"{CTX}.m.k",
            f"{CTX}.items.sku",
            "m.n3",
            "objs.k",
        ]
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
# strings at and past the bound a string method reads (MAX_MATCH_INPUT characters)
long_text = st.sampled_from(
    [
        "a" * MAX_MATCH_INPUT,
        "a" * (MAX_MATCH_INPUT + 1),
        "ab" * (MAX_MATCH_INPUT // 2),
        "b" + "a" * (MAX_MATCH_INPUT // 2),
        "Ab" * (MAX_MATCH_INPUT // 2 + 1),
    ]
)
text = st.one_of(scalar, long_text)
obj = st.fixed_dictionaries(
    {}, optional={"v": scalar, "k": scalar, "xdm:v": scalar, "xdm:k": scalar}
)
zero_one_data = st.sampled_from([True, False, 0, 1, 0.0, 1.0, -0.0, None, "0", "1", 2])
# values that are, or look like, the items of `mixed_list`
mixed_data = st.sampled_from(
    [True, False, 0, 1, 1.0, 2.5, "a", "", "2.5", "1", "A", None, [1], {"a": 1}]
)
unknown = st.one_of(scalar, timestamp, mixed_data, st.lists(scalar, max_size=2), obj)
profile = st.fixed_dictionaries(
    {},
    optional={
        "n1": scalar,
        "n2": scalar,
        "s1": text,
        "xdm:s2": text,
        "m": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "n3": scalar,
                    "s3": scalar,
                    "xdm:n3": scalar,
                    "xdm:s3": scalar,
                    "u3": unknown,
                },
            ),
        ),
        "b1": zero_one_data,
        "xdm:b1": zero_one_data,
        "mx": mixed_data,
        "u1": unknown,
        "u2": unknown,
        "xdm:u2": unknown,
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
context_obj = st.fixed_dictionaries(
    {},
    optional={
        "channel": scalar,
        "xdm:channel": st.sampled_from(["web", "mobile", None]),
        "n": scalar,
        "xdm:n": scalar,
        "m": st.fixed_dictionaries({}, optional={"k": scalar, "xdm:k": scalar}),
        "xdm:m": st.fixed_dictionaries({}, optional={"xdm:k": scalar}),
        "xdm:items": st.lists(
            st.fixed_dictionaries({}, optional={"sku": scalar, "xdm:sku": st.just("A")}),
            max_size=3,
        ),
    },
)
context = st.fixed_dictionaries(
    {},
    optional={
        REF: st.one_of(context_obj, st.none(), scalar, st.lists(context_obj, max_size=2)),
        "xdm:" + REF: context_obj,
        "other": context_obj,
    },
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
@given(text=expression, profile=profile, events=events, segments=segments, context=context)
def test_compiled_equals_interpreted(
    text: str,
    profile: dict[str, Any],
    events: list[dict[str, Any]],
    segments: dict[str, str],
    context: dict[str, Any],
) -> None:
    try:
        compiled = compile_expression(text)
    except PqlError as exc:  # the generator only writes well-typed PQL
        raise AssertionError(f"generated text did not compile: {text!r}: {exc}") from exc
    env = make_env(profile, events=events, segments=segments, context=context)
    fast = _outcome(lambda: compiled.evaluate(env))
    slow = _outcome(lambda: compiled.interpret(env))
    assert fast == slow, (text, compiled.source)
    if fast[0] == "value":
        assert type(fast[1]) is type(slow[1]), text


def _prefixed(values: dict[str, Any], prefix: list[bool]) -> dict[str, Any]:
    """Some keys written as Adobe request bodies do: `xdm:key`."""
    return {("xdm:" + k if p else k): v for (k, v), p in zip(values.items(), prefix, strict=False)}


def _some_prefixed(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        _prefixed,
        st.fixed_dictionaries(fields),
        st.lists(st.booleans(), min_size=len(fields), max_size=len(fields)),
    )


near = st.one_of(
    st.sampled_from(EDGES).map(lambda d: (NOW + d).isoformat().replace("+00:00", "Z")),
    st.sampled_from(EDGES).map(lambda d: NOW + d),
    st.sampled_from(["2026-03-15", "2026-03-15T14:30:00+02:00", None]),
)
special_profile = _some_prefixed(
    t1=near,
    t2=near,
    b1=zero_one_data,
    mx=mixed_data,
    u1=unknown,
    u2=unknown,
    n1=scalar,
    n2=scalar,
    m=_some_prefixed(n3=scalar, u3=unknown),
    s1=scalar,
)
special_context = st.one_of(
    st.builds(lambda obj: {REF: obj}, _some_prefixed(channel=scalar, n=scalar, m=obj)),
    st.builds(lambda obj: {"xdm:" + REF: obj}, _some_prefixed(channel=scalar, n=scalar, m=obj)),
    context,
)


def _connect(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda x: f"not ({x})"),
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@example(text="b1 = 0", profile={"b1": False}, events=[], context={})
@example(text="1 = b1", profile={"b1": True}, events=[], context={})
@example(text='mx in [1, "a"]', profile={"mx": "a"}, events=[], context={})
@example(text='mx in [1, "a"]', profile={"mx": True}, events=[], context={})
@example(text='mx notIn [1, "a"]', profile={"mx": 1.0}, events=[], context={})
@example(
    text='t1 occurs before "2026-03-15T12:30:00Z"',
    profile={"t1": "2026-03-15T08:00:00Z"},
    events=[],
    context={},
)
@example(text="u1 >= u2", profile={"u1": 2, "u2": 1}, events=[], context={})
@example(
    text=f'{CTX}.channel = "web"',
    profile={},
    events=[],
    context={"xdm:" + REF: {"xdm:channel": "web"}},
)
@given(
    text=st.recursive(_specialised(), _connect, max_leaves=3),
    profile=special_profile,
    events=events,
    context=special_context,
)
def test_specialised_shapes_agree(
    text: str, profile: dict[str, Any], events: list[dict[str, Any]], context: dict[str, Any]
) -> None:
    """The shapes above, drawn often enough that a specialisation gone wrong is found."""
    compiled = compile_expression(text)
    env = make_env(profile, events=events, context=context)
    fast = _outcome(lambda: compiled.evaluate(env))
    slow = _outcome(lambda: compiled.interpret(env))
    assert fast == slow, (text, compiled.source)
    if fast[0] == "value":
        assert type(fast[1]) is type(slow[1]), text
