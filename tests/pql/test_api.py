"""The public API: compile functions, the cache, reads, Env, errors' shape."""

from __future__ import annotations

import hashlib
import pickle
from datetime import UTC, datetime

import pytest

import nextoffer.pql as pql
from nextoffer.pql import (
    Compiled,
    Env,
    PqlError,
    PqlLimitError,
    PqlSyntaxError,
    PqlTypeError,
    Reads,
    compile_cached,
    compile_formula,
    compile_rule,
)

from .conftest import make_env


def test_error_family() -> None:
    for cls in (PqlSyntaxError, PqlTypeError, PqlLimitError):
        assert issubclass(cls, PqlError)
    with pytest.raises(PqlSyntaxError) as info:
        compile_rule("a ==")
    err = info.value
    assert {"code", "message", "line", "column", "excerpt"} <= set(vars(err))
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.line, copy.column, str(copy)) == (
        err.code,
        err.line,
        err.column,
        str(err),
    )


def test_compiled_attributes() -> None:
    rule = compile_rule('age > 18 and inSegment("gold")')
    assert isinstance(rule, Compiled)
    assert rule.kind == "rule" and rule.text.startswith("age")
    expected = hashlib.sha256(b"rule\0\0" + rule.text.encode()).hexdigest()
    assert rule.digest == expected
    assert "def _pql(env)" in rule.source
    assert rule.test(make_env({"age": 20}, segments={"gold": "existing"}))


def test_reads() -> None:
    rule = compile_rule(
        'person.name.firstName = "A" and profile.age > 1 and @{ctx;v=1}.channel = "web" '
        "and exists e from xEvent where e.commerce.order.total > 5 "
        'and exists o from orders where o.sku = "X" and inSegment("s-1") '
        'and segmentMembership.get("ups").get("s-2").status = "existing" and xEvent.web.name = "x"'
    )
    assert rule.reads == Reads(
        profile=frozenset({"person.name.firstName", "age", "orders.sku"}),
        context=frozenset({("ctx;v=1", "channel")}),
        events=frozenset({"commerce.order.total", "web.name"}),
        offer=frozenset(),
        segments=frozenset({"s-1", "s-2"}),
    )
    formula = compile_formula("offer.rank.priority * boosted.weight", aliases=["boosted"])
    assert formula.reads.offer == {"rank.priority"}
    assert formula.reads.aliases == {("boosted", "weight")}


def test_formula_aliases() -> None:
    plain = compile_formula("offer.rank.priority * boosted.weight")  # without the alias ...
    assert plain.reads.profile == {"boosted.weight"}  # ... boosted is a profile attribute
    with pytest.raises(ValueError):
        compile_formula("1", aliases=["offer"])
    with pytest.raises(ValueError):
        compile_formula("1", aliases=["not an identifier"])


def test_cache_reuses_compiles_by_hash() -> None:
    pql.clear_cache()
    a = compile_cached("age > 18")
    assert compile_cached("age > 18") is a
    b = compile_cached("offer.rank.priority", kind="formula")
    c = compile_cached("offer.rank.priority", kind="formula", aliases=["x"])
    assert b is not c and b.digest != c.digest
    assert compile_cached("offer.rank.priority", kind="formula", aliases=("x",)) is c
    with pytest.raises(PqlSyntaxError):
        compile_cached("age >")


def test_env_is_cheap_and_keyword_only() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    env = Env({"a": 1}, now=now)
    assert env.context == {} and env.events == () and env.segments == {} and env.offer is None
    with pytest.raises(TypeError):
        Env({"a": 1}, {}, now=now)  # type: ignore[misc]
    assert not hasattr(env, "__dict__")


def test_not_text() -> None:
    with pytest.raises(TypeError):
        compile_rule(b"a = 1")  # type: ignore[arg-type]
