"""Shared helpers: an injected clock, env builders, and evaluation through both back ends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nextoffer.pql import Env, compile_expression, compile_formula, compile_rule

# A fixed "now" (a Sunday afternoon, UTC): every time-dependent test is reproducible.
NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)


def make_env(profile: dict[str, Any] | None = None, **kw: Any) -> Env:
    kw.setdefault("now", NOW)
    return Env(profile if profile is not None else {}, **kw)


def both(text: str, kind: str = "rule", aliases: tuple[str, ...] = (), **env: Any) -> Any:
    """Evaluate with the generated code and the interpreter; they must agree."""
    if kind == "rule":
        compiled = compile_rule(text)
    elif kind == "formula":
        compiled = compile_formula(text, aliases)
    else:
        compiled = compile_expression(text, aliases)
    e = make_env(**env)
    fast, slow = compiled.evaluate(e), compiled.interpret(e)
    assert fast == slow, (text, fast, slow)
    assert type(fast) is type(slow), (text, fast, slow)
    return fast


def holds(text: str, **env: Any) -> bool:
    """Whether a rule is satisfied (and both back ends agree on its value)."""
    both(text, **env)
    return compile_rule(text).test(make_env(**env))
