"""What the code generator promises beyond values (docs/pql.md, "How it compiles").

Values are held to the interpreter by tests/pql/test_equivalence.py; here: literals and
attribute names travel as constants, so rules of one shape share one compiled code object, and
the generated source is vetted before it runs.
"""

from __future__ import annotations

import re

import pytest

from nextoffer.pql import compile_expression, compile_formula, compile_rule

from .conftest import make_env

# Pairs of rules that differ only in literals and attribute names.
SAME_SHAPE = [
    ('a > 1 and b.c = "x"', 'q > 7 and r.s = "yy"'),
    ('a in [1, 2] or b in ["x"]', 'z in [5, 6] or y in ["w"]'),
    ('a in [1, "x"]', 'z in [2, "y"]'),
    ("a >= b", "c >= d"),
    ('t occurs before "2026-03-10T12:00:00Z"', 't occurs before "2025-01-01T00:00:00Z"'),
    ('s.matches("a+")', 's.matches("b*")'),
    ('@{ref;v=1}.x = 0 and inSegment("s1")', '@{other}.y = 0 and inSegment("s2")'),
    ("exists e from xEvent where e.v > 1", "exists e from xEvent where e.w > 2"),
]


@pytest.mark.parametrize(("one", "other"), SAME_SHAPE)
def test_rules_of_one_shape_share_one_code_object(one: str, other: str) -> None:
    a, b = compile_rule(one), compile_rule(other)
    assert a.source == b.source
    assert a._fn.__code__ is b._fn.__code__  # compiled once, by source
    assert a.digest != b.digest


def test_literals_are_constants_and_equal_ones_are_shared() -> None:
    rule = compile_rule(
        'a > 1.5 and b < 1.5 and c = "x" and d = "x" and e = 2 and f = 2.0 '
        "and g = 123456789 and h = 123456789"
    )
    constants = set(re.findall(r"K[0-9]+", rule.source))
    # names a..h (and their `xdm:` forms: 16), 1.5 once, "x" once, 2 and 2.0 apart, 123456789 once
    assert len(constants) == 16 + 1 + 1 + 2 + 1
    for text in ("1.5", '"x"', "2.0"):
        assert text not in rule.source
    values = {"a": 2, "b": 1, "c": "x", "d": "x", "e": 2, "f": 2, "g": 123456789, "h": 123456789}
    assert rule.test(make_env(values))


def test_booleans_and_null_are_written_out() -> None:
    """Only None/True/False appear in source; they are not user text and share no slot."""
    rule = compile_rule("a = true and b = false and c.isNull()")
    assert "is True" in rule.source and "is False" in rule.source
    assert rule.test(make_env({"a": True, "b": False}))
    assert not rule.test(make_env({"a": 1, "b": 0}))


def test_root_paths_are_read_once_at_the_top() -> None:
    rule = compile_rule("a.b > 1 and a.b < 5 and a.c = 2")
    lines = rule.source.splitlines()
    assert lines[0] == "def _pql(env):"
    assert lines[-1].strip().startswith("return ")
    hoisted = [line for line in lines[1:-1]]
    assert hoisted[0].strip() == "p = env.profile"
    assert len(hoisted) == 4  # p, a, a.b, a.c: a.b once although used twice
    assert rule.test(make_env({"a": {"b": 3, "c": 2}}))


@pytest.mark.parametrize(
    ("text", "kind", "prologue"),
    [
        ("a = 1", "rule", ["p = env.profile"]),
        ("@{r}.a = 1", "rule", ["c = env.context"]),
        ("offer.rank.priority", "formula", ["o = env.offer"]),
        ("xEvent.count() > 0", "rule", ["ev = env.events", "w = ["]),
        ('inSegment("s")', "rule", ["sg = env.segments"]),
        ("t occurs today", "rule", ["p = env.profile", "now = utc(env.now)"]),
        ("1 + 1", "expression", []),
    ],
)
def test_the_prologue_reads_only_what_the_rule_uses(
    text: str, kind: str, prologue: list[str]
) -> None:
    compiled = {"rule": compile_rule, "formula": compile_formula}.get(kind, compile_expression)(
        text
    )
    lines = [line.strip() for line in compiled.source.splitlines()[1:]]
    heads = [line for line in lines if re.match(r"(p|c|o|ev|sg|al|now|w) = ", line)]
    assert len(heads) == len(prologue)
    for line, start in zip(heads, prologue, strict=True):
        assert line.startswith(start)


# The fast paths docs/pql.md promises, as the returned expression (constants written `K`).
# A change here is a change of the generated code: rerun benchmarks/bench_pql.py.
FAST_PATHS = [
    ("a >= 18", "(a1.__class__ in NUMS and a1 >= K)"),
    ("18 <= a", "(a1.__class__ in NUMS and a1 >= K)"),  # a literal on the left is flipped
    ("18 > a", "(a1.__class__ in NUMS and a1 < K)"),
    ("a = 18", "(a1 == K)"),  # equality with a number other than 0 or 1 needs no guard
    ("a = 1", "(a1.__class__ in NUMS and a1 == K)"),  # ... but True == 1 in Python
    ("a = 0", "(a1.__class__ in NUMS and a1 == K)"),
    ("a != 18", "(a1.__class__ in NUMS and a1 != K)"),
    ('a = "x"', "(a1 == K)"),
    ('a != "x"', "(a1.__class__ is str and a1 != K)"),
    ('a < "x"', "(a1.__class__ is str and a1 < K)"),
    ("flag = true", "(a1 is True)"),
    ("flag != true", "(a1 is False)"),
    ("flag = false", "(a1 is False)"),
    ("a in [1, 2.5]", "(a1.__class__ in NUMS and a1 in K)"),
    ("a notIn [1, 2]", "(a1.__class__ in NUMS and a1 not in K)"),
    ('a in ["x", "y"]', "(a1.__class__ is str and a1 in K)"),
    ('a notIn ["x"]', "(a1.__class__ is str and a1 not in K)"),
    ('a in [1, "x"]', "is_in(a1, [K, K], w)"),  # mixed kinds: the generic helper
    ("a in [true]", "is_in(a1, [True], w)"),
    ("a in [n, 1]", "is_in(a1, [a2, K], w)"),
    ("a >= b", "ge(a1, a2, w)"),
    ("a < b", "lt(a1, a2, w)"),
    ("a = b", "eq(a1, a2, w)"),
    ("a != b", "ne(a1, a2, w)"),
    ("a <= b", "le(a1, a2, w)"),
    ("a > b", "gt(a1, a2, w)"),
    ("t < now", "dt_compare('<', a1, now)"),
    ('t < "2026-01-01T00:00:00Z"', "((t1 := to_dt(a1)) is not None and t1 < K)"),
    ('"2026-01-01T00:00:00Z" < t', "((t1 := to_dt(a1)) is not None and t1 > K)"),
    ('inSegment("s")', "(sg.get(K) in LIVE)"),
    ("inSegment(x)", "in_segment(sg, a1)"),
    ("currentMonth() = 3", "(now.month == K)"),
    ("currentYear() = 2026", "(now.year == K)"),
    ("currentDayOfMonth() = 15", "(now.day == K)"),
    ("a.isNull()", "(a1 is None)"),
    ("a.isNotNull()", "(a1 is not None)"),
    ('s.equals("x")', "(a1 == K)"),
    ('s.equals("x", false)', "s_equals(a1, K, False, w)"),
    ('s.contains("x")', "s_contains(a1, K, True, w)"),
    ('s.matches("r+")', "full_match(a1, K, w)"),  # the regex compiled once, a constant
    ('s like "a%"', "full_match(a1, K, w)"),
    ("t occurs today", "occurs_on(a1, time_word('today', now))"),
    ('t occurs before "2026-03-10T12:00:00Z"', "occurs_dir(a1, 'before', K)"),
    ("t occurs after date(2026, 3, 10)", "occurs_dir(a1, 'after', K)"),
    ("t occurs before u", "occurs_dir(a1, 'before', point(a2))"),
    ("t occurs last week", "occurs_on(a1, period('last', None, 'week', now))"),
    (
        "t occurs < 2 days before now",
        "occurs_cmp(a1, '<', 2, 'day', 'before', time_word('now', now))",
    ),
    (
        "t occurs between yesterday and now",
        "occurs_between(a1, time_word('yesterday', now), time_word('now', now))",
    ),
    ("not a", "(not truth(a1))"),
    ("not (a > 1)", "(not (a1.__class__ in NUMS and a1 > K))"),
    ("a and b", "(truth(a1) and truth(a2))"),
    # a value sure to be a boolean goes to `and`/`or`/`not` as is; anything else through truth()
    ("not (a and b)", "(not (truth(a1) and truth(a2)))"),
    ("not (a in [1])", "(not (a1.__class__ in NUMS and a1 in K))"),
    ("not (t occurs today)", "(not occurs_on(a1, time_word('today', now)))"),
    ("not not a", "(not (not truth(a1)))"),
    ("not true", "(not True)"),
    (
        "not (exists e from xEvent where e.a)",
        "(not exists(ev, lambda v1: truth(lookup(v1, K, w)), w))",
    ),
    (
        "not (select e from xEvent where e.a)",
        "(not truth(select(ev, lambda v1: truth(lookup(v1, K, w)), w)))",
    ),
    ('not s.contains("x")', "(not s_contains(a1, K, True, w))"),
    ("not -a", "(not truth(neg(a1)))"),
    ('not m.get("k")', "(not truth(a2))"),  # a1 is m
    ("not nums.count()", "(not truth(count(a1, w)))"),
    ("a > 1 or true", "((a1.__class__ in NUMS and a1 > K) or True)"),
    ("if(a, b, c)", "(a1 if truth(a2) else a3)"),  # paths are numbered as met
    ("let x = a in x > 1", "((v1 := a1), (v1.__class__ in NUMS and v1 > K))[-1]"),
    ("a + b * 2", "add(a1, mul(a2, K))"),
    ("-a", "neg(a1)"),
    ("xEvent.a = 1", "(a2.__class__ in NUMS and a2 == K)"),
    ("now", "now"),
    ("if(a, 1, null)", "(K if truth(a1) else None)"),
    ("today", "time_value('today', now)"),
    (
        "exists e from xEvent where e.a.b = 1",
        "exists(ev, lambda v1: ((t1 := path(v1, K, w)).__class__ in NUMS and t1 == K), w)",
    ),
    (
        "exists e from xEvent where e.a.b > 1 and e.c.d < 2",  # one temporary per guard
        "exists(ev, lambda v1: (((t1 := path(v1, K, w)).__class__ in NUMS and t1 > K) and "
        "((t2 := path(v1, K, w)).__class__ in NUMS and t2 < K)), w)",
    ),
    ("select e from xEvent where e.a", "select(ev, lambda v1: truth(lookup(v1, K, w)), w)"),
    (
        "forall e from xEvent where e.a.isNull()",
        "forall(ev, lambda v1: (lookup(v1, K, w) is None), w)",
    ),
    ("nums.map(x => x.v)", "map_(a1, lambda v1: lookup(v1, K, w), w)"),
    ("m.get(k)", "get(a1, a2, w)"),
]


@pytest.mark.parametrize(("text", "code"), FAST_PATHS, ids=[t for t, _ in FAST_PATHS])
def test_fast_paths(text: str, code: str) -> None:
    returned = compile_expression(text).source.splitlines()[-1].strip()
    assert re.sub(r"K[0-9]+", "K", returned) == "return " + code
