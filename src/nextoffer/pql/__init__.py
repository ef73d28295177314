"""Adobe's Profile Query Language (PQL) for decision rules and ranking formulas.

Text is parsed (lark, LALR) into a typed AST, checked (names, types, Adobe's limits), then
compiled to a small Python function; a tree-walking interpreter over the same AST serves
explanations and is the reference the compiled code is tested against.  Pure: no I/O.

    rule = compile_rule('profile.age >= 18 and inSegment("gold")')
    rule.test(Env(profile, now=clock.now(), segments=memberships))
"""

from __future__ import annotations

from collections.abc import Iterable

from .cache import clear_cache, compile_cached
from .compiled import Compiled, compile_text
from .diagnostics import Diagnosis, Diagnostic, diagnose
from .env import Env
from .errors import PqlError, PqlLimitError, PqlSyntaxError, PqlTypeError
from .explain import Explanation, Failure
from .reads import Reads
from .runtime import WorkExceeded


def compile_rule(text: str) -> Compiled:
    """Compile a boolean eligibility rule (at most 15 KB of UTF-8)."""
    return compile_text(text, "rule")


def compile_formula(text: str, aliases: Iterable[str] = ()) -> Compiled:
    """Compile a numeric ranking formula (at most 8 KB); ``offer`` and ``aliases`` are roots."""
    return compile_text(text, "formula", aliases)


def compile_expression(text: str, aliases: Iterable[str] = ()) -> Compiled:
    """Compile an expression of any type (e.g. a value to show in a representation).

    Same language and limits as a rule, with ``offer`` and ``aliases`` available as in a
    formula; the value is whatever the expression computes.
    """
    return compile_text(text, "expression", aliases)


__all__ = [
    "Compiled",
    "Diagnosis",
    "Diagnostic",
    "Env",
    "Explanation",
    "Failure",
    "PqlError",
    "PqlLimitError",
    "PqlSyntaxError",
    "PqlTypeError",
    "Reads",
    "WorkExceeded",
    "clear_cache",
    "compile_cached",
    "compile_expression",
    "compile_formula",
    "compile_rule",
    "diagnose",
]
