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
    rule = compile_rule('a > 1.5 and b < 1.5 and c = "x" and d = "x" and e = 2 and f = 2.0')
    constants = set(re.findall(r"K[0-9]+", rule.source))
    # attribute names a..f (and their `xdm:` forms: 12), 1.5 once, "x" once, 2 and 2.0 apart
    assert len(constants) == 12 + 1 + 1 + 2
    for text in ("1.5", '"x"', "2.0"):
        assert text not in rule.source
    values = {"a": 2, "b": 1, "c": "x", "d": "x", "e": 2, "f": 2}
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
