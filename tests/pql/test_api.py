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
from tests.helpers import Api, assert_problem

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


# ---- through the HTTP API: the library compiles rules on write ----------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_path_to_path_rules_are_accepted_through_the_api(api: Api, op: str) -> None:
    """`a >= b` between two paths of unknown type is a valid rule: 201, never a 500."""
    pql.clear_cache()  # compile here, not from an earlier test's cache entry
    for text in (
        f"a {op} b",
        f"person.age {op} loyalty.threshold and profile.x.y {op} profile.z",
        f"xEvent.timestamp {op} person.lastSeen",
        f"@{{_xdm.context.additionalParameters;version=1}}.temp {op} person.comfort",
    ):
        r = api.post("/offer-rules", {"name": f"r {op}", "condition": {"value": text}})
        assert r.status_code == 201, r.text
        assert api.get(f"/offer-rules/{r.json()['id']}").json()["condition"]["value"] == text
    r = api.post(
        "/ranking-formulas",
        {"name": "f", "expression": {"value": f"if(offer.rank.priority {op} boost, 2, 1)"}},
    )
    assert r.status_code == 201, r.text


def test_a_path_to_path_rule_with_conflicting_types_is_a_clear_422(api: Api) -> None:
    text = 'a >= b and a = "x" and b = 1'
    problem = assert_problem(
        api.post("/offer-rules", {"name": "r", "condition": {"value": text}}),
        422,
        "invalid-pql",
        pointer="/condition/value",
    )
    error = problem["errors"][0]
    assert error["pqlCode"] == "type_mismatch"
    assert "Cannot compare a string with a number" in error["message"]
    assert (error["line"], error["column"]) == (1, 1)  # the comparison of the two paths
    assert api.get("/offer-rules").json()["total"] == 0
