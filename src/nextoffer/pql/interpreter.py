"""The reference tree-walking interpreter over the same checked AST the code generator reads.

It is the plain statement of PQL's semantics: generic runtime helpers, no specialisation.
Explanations run on it (it can record every node's value), the property tests hold the
generated code to it, and the benchmark measures the generated code against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A
from . import runtime as R
from .ast import ALIAS, CONTEXT, EVENT, EVENTS, OFFER, PROFILE, SEGMENTS, VAR
from .functions import METHODS
from .limits import MAX_WORK


class Interpreter:
    """Evaluates one expression against one env; ``trace`` (if given) records node values."""

    def __init__(self, env: Any, trace: dict[int, Any] | None = None):
        self.env = env
        self.now = R.utc(env.now)
        self.work = [MAX_WORK]
        self.vars: dict[str, Any] = {}
        self.trace = trace

    def eval(self, node: A.Node) -> Any:
        value = getattr(self, "e_" + type(node).__name__)(node)
        if self.trace is not None:
            self.trace[id(node)] = value
        return value

    def truth(self, node: A.Node) -> bool:
        return R.truth(self.eval(node))

    def bound(self, var: str, value: Any, fn: Callable[[], Any]) -> Any:
        saved = self.vars.get(var, _UNSET)
        self.vars[var] = value
        try:
            return fn()
        finally:
            if saved is _UNSET:
                del self.vars[var]
            else:
                self.vars[var] = saved

    def lam(self, var: str, body: A.Node | None, as_truth: bool = False) -> Callable[[Any], Any]:
        if body is None:
            return lambda item: True
        if as_truth:
            return lambda item: self.bound(var, item, lambda: self.truth(body))
        return lambda item: self.bound(var, item, lambda: self.eval(body))

    # ---- leaves ---------------------------------------------------------------------------------
    def e_Literal(self, node: A.Literal) -> Any:
        return node.value

    def e_ListLit(self, node: A.ListLit) -> Any:
        return [self.eval(i) for i in node.items]

    def e_TimeWord(self, node: A.TimeWord) -> Any:
        return R.time_value(node.word, self.now)

    def e_Path(self, node: A.Path) -> Any:
        env = self.env
        root = node.root
        if root == VAR:
            base = self.vars[node.key]
        elif root == PROFILE:
            base = env.profile
        elif root == CONTEXT:
            base = R.lookup(env.context, node.key)
        elif root == OFFER:
            base = env.offer
        elif root == EVENT:
            base = R.first_event(env.events)
        elif root == EVENTS:
            base = env.events
        elif root == ALIAS:
            base = env.aliases.get(node.key)
        else:
            assert root == SEGMENTS
            base = R.segment_root(env.segments)
        if root == VAR:  # charged as the generated code charges it: once per item of a loop
            return R.path(base, node.segments, self.work)
        return R.path(base, node.segments)

    def e_Member(self, node: A.Member) -> Any:
        return R.lookup(self.eval(node.target), node.name, self.work)

    # ---- operators ------------------------------------------------------------------------------
    def e_Unary(self, node: A.Unary) -> Any:
        if node.op == "not":
            return not self.truth(node.operand)
        return R.neg(self.eval(node.operand))

    def e_BoolOp(self, node: A.BoolOp) -> Any:
        if node.op == "and":
            return all(self.truth(o) for o in node.operands)
        return any(self.truth(o) for o in node.operands)

    def e_Arith(self, node: A.Arith) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        if node.op == "+":
            return R.add(left, right, self.work)
        return R.ARITH[node.op](left, right)

    def e_If(self, node: A.If) -> Any:
        return self.eval(node.then) if self.truth(node.cond) else self.eval(node.other)

    def e_Compare(self, node: A.Compare) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        if "datetime" in (node.left.type.kind, node.right.type.kind):
            return R.dt_compare(node.op, left, right)
        if isinstance(node.left, A.Literal) or isinstance(node.right, A.Literal):
            return R.COMPARE[node.op](left, right)  # against a rule-sized literal: free
        return R.COMPARE[node.op](left, right, self.work)

    def e_In(self, node: A.In) -> Any:
        item, coll = self.eval(node.item), self.eval(node.collection)
        # Generated code tests a list of string (or number) literals as a frozenset, at no
        # charge: charge nothing here either, so both back ends run out of work alike.
        work = [MAX_WORK] if _literal_set(node.collection) else self.work
        return (R.not_in if node.negate else R.is_in)(item, coll, work)

    # ---- select / let ---------------------------------------------------------------------------
    def e_Quant(self, node: A.Quant) -> Any:
        helper = {"select": R.select, "exists": R.exists, "forall": R.forall}[node.kind]
        return helper(self.eval(node.source), self.lam(node.var, node.where, True), self.work)

    def e_Let(self, node: A.Let) -> Any:
        saved = {v: self.vars.get(v, _UNSET) for v in node.vars}
        try:
            for var, value in zip(node.vars, node.values, strict=True):
                self.vars[var] = self.eval(value)
            return self.eval(node.body)
        finally:
            for var, old in saved.items():
                if old is _UNSET:
                    self.vars.pop(var, None)
                else:
                    self.vars[var] = old

    # ---- time -----------------------------------------------------------------------------------
    def interval(self, node: A.Node) -> Any:
        if isinstance(node, A.TimeWord):
            return R.time_word(node.word, self.now)
        if isinstance(node, A.Period):
            return R.period(node.rel, node.count, node.unit, self.now)
        value = self.eval(node)
        if isinstance(node, A.Literal) and node.is_date:
            return R.day_of(value)
        return R.point(value)

    def e_Occurs(self, node: A.Occurs) -> Any:
        ts = self.eval(node.ts)
        if node.form == "cmp":
            anchor = self.interval(node.t1)
            return R.occurs_cmp(ts, node.op, node.count, node.unit, node.direction, anchor)
        if node.form == "dir":
            return R.occurs_dir(ts, node.direction, self.interval(node.t1))
        if node.form == "on":
            return R.occurs_on(ts, self.interval(node.t1))
        assert node.t2 is not None
        return R.occurs_between(ts, self.interval(node.t1), self.interval(node.t2))

    # ---- calls ----------------------------------------------------------------------------------
    def e_Call(self, node: A.Call) -> Any:
        if node.target is None:
            if node.name == "inSegment":
                return R.in_segment(self.env.segments, self.eval(node.args[0]))
            part = {"currentMonth": "month", "currentYear": "year", "currentDayOfMonth": "day"}
            return getattr(self.now, part[node.name])
        fn = METHODS[node.name]
        target = self.eval(node.target)
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, A.Lambda):
                args.append(self.lam(arg.var, arg.body))
            else:
                args.append(self.eval(arg))
        if fn.name in ("matches", "like", "regexGroup"):
            args.insert(0, node.data)
        elif fn.target == "string":
            args.append(node.data)
        if fn.work:
            args.append(self.work)
        return getattr(R, fn.helper)(target, *args)


_UNSET = object()


def _literal_set(node: A.Node) -> bool:
    """A list of literals all strings or all numbers: what the code generator makes a set."""
    if not isinstance(node, A.ListLit) or not node.items:
        return False
    if not all(isinstance(i, A.Literal) for i in node.items):
        return False
    kinds = {i.value.__class__ for i in node.items}  # type: ignore[attr-defined]
    return kinds == {str} or kinds <= {int, float}


def evaluate(root: A.Node, env: Any, trace: dict[int, Any] | None = None) -> Any:
    """Evaluate a checked AST; raises :class:`~nextoffer.pql.runtime.WorkExceeded` past the
    work bound (callers turn that into null)."""
    return Interpreter(env, trace).eval(root)
