"""Why a rule was not satisfied: the smallest sub-expression that made it fail.

Runs the reference interpreter with a trace of every node's value, then walks down from the
root following the blame: into the first false operand of an ``and``, through ``not`` with the
wish inverted, into the branch ``if`` took.  An ``or`` whose every operand failed is blamed as a
whole: no single operand made it fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ast as A
from . import runtime as R
from .interpreter import evaluate


@dataclass(frozen=True, slots=True)
class Operand:
    """A part of the failed sub-expression and its value: why `tier = "gold"` was false is
    that `tier` was "silver"."""

    source: str
    value: Any


@dataclass(frozen=True, slots=True)
class Failure:
    """A sub-expression, where it is in the text, the value it had, and its operands' values
    (literals left out: their value is their text)."""

    source: str
    line: int
    column: int
    end_line: int
    end_column: int
    value: Any
    operands: tuple[Operand, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    value: Any
    satisfied: bool
    failed: Failure | None = None
    exceeded_work: bool = False


_MISSING = object()


def _blame(node: A.Node, want: bool, trace: dict[int, Any]) -> A.Node:
    while True:
        if isinstance(node, A.BoolOp):
            values = [(o, trace.get(id(o), _MISSING)) for o in node.operands]
            evaluated = [(o, v) for o, v in values if v is not _MISSING]
            if node.op == "and" and want:
                bad = [o for o, v in evaluated if not R.truth(v)]
            elif node.op == "or" and not want:
                bad = [o for o, v in evaluated if R.truth(v)]
            else:
                return node
            if not bad:
                return node
            node = bad[0]
        elif isinstance(node, A.Unary) and node.op == "not":
            node, want = node.operand, not want
        elif isinstance(node, A.If):
            taken = node.then if R.truth(trace.get(id(node.cond))) else node.other
            node = taken
        elif isinstance(node, A.Let):
            node = node.body
        else:
            return node


def _null_source(node: A.Node, trace: dict[int, Any]) -> A.Node:
    """For a null formula: follow children that are null too, down to the first one."""
    while True:
        nulls = [c for c in node.children() if id(c) in trace and trace[id(c)] is None]
        if not nulls:
            return node
        node = nulls[0]


def explain(root: A.Node, text: str, env: Any, kind: str) -> Explanation:
    trace: dict[int, Any] = {}
    try:
        value = evaluate(root, env, trace)
    except R.WorkExceeded:
        return Explanation(None, False, None, exceeded_work=True)
    satisfied = R.test(value) if kind == "rule" else value is not None
    if satisfied:
        return Explanation(value, True)
    node = _blame(root, True, trace) if kind == "rule" else _null_source(root, trace)
    s = node.span
    operands = tuple(
        Operand(text[c.span.start : c.span.end], trace[id(c)])
        for c in node.children()
        if id(c) in trace and not isinstance(c, A.Literal | A.Lambda)
    )
    failure = Failure(
        text[s.start : s.end],
        s.line,
        s.column,
        s.end_line,
        s.end_column,
        trace.get(id(node)),
        operands,
    )
    return Explanation(value, False, failure)
