"""AST -> resolved, typed AST.  One walk that resolves names, infers types and gathers reads.

* Names: a bound variable (select/exists/forall/let/lambda), ``profile``/``$1``, ``xEvent``,
  ``offer`` (formulas only), a formula alias, ``segmentMembership``, else a profile attribute.
  Member chains on those roots fold into one :class:`Path` so code can inline dict lookups;
  ``.get("literal")`` folds the same way.
* Types: literals, functions and the offer/event fields nextoffer knows are typed; other data
  is ``any``.  A path used as two incompatible types in one expression is an error, and so is
  comparing a string with a number, a function on the wrong kind of value, a bad regex.
* Reads: every profile/context/event/offer/alias path and literal audience id, for
  :class:`~nextoffer.pql.reads.Reads` and the attribute limits.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2

from . import ast as A
from .ast import ALIAS, CONTEXT, EVENT, EVENTS, OFFER, PROFILE, SEGMENTS, VAR
from .errors import PqlLimitError, PqlTypeError
from .functions import FUNCTIONS, METHODS, Fn
from .limits import (
    MAX_CONTEXT_ATTRIBUTES,
    MAX_DATETIME_TEXT,
    MAX_DEPTH,
    MAX_PROFILE_ATTRIBUTES,
    MAX_TOP_N,
)
from .patterns import PatternTooCostly, like, regex
from .reads import ReadSet
from .runtime import date_value, parse_datetime, unit_name
from .types import (
    ANY,
    BOOL,
    DT,
    LIST,
    MAP,
    NULL,
    NUM,
    PERIOD,
    STR,
    Type,
    compatible,
    elem_of,
    list_of,
    unify,
)

Origin = tuple[str, str, tuple[str, ...]]

_ROOT_READS = {
    PROFILE: "profile",
    CONTEXT: "context",
    EVENT: "events",
    OFFER: "offer",
    ALIAS: "aliases",
}
_ORDERABLE = ("number", "string", "datetime", "any", "null")
_LIST_OF_TARGET = ("filter", "distinct", "topN", "bottomN", "intersection")
_ITEM_OF_TARGET = ("head", "min", "max")
ITEM = "[]"  # marks "an item of" in an origin, so item paths and lax list paths differ


@dataclass(frozen=True, slots=True)
class Var:
    id: str
    type: Type
    origin: Origin | None
    quant: A.Quant | None = None


@dataclass(slots=True)
class Checked:
    root: A.Node
    reads: ReadSet
    kind: str


def known_type(origin: Origin) -> Type:
    """Types nextoffer knows for fields of the offer read model, events and audiences."""
    root, _, segs = origin
    if root == OFFER:
        if segs == ("rank", "priority"):
            return NUM
        if segs in (("selectionConstraint", "startDate"), ("selectionConstraint", "endDate")):
            return DT
        if segs in (("name",), ("id",), ("_id",)):
            return STR
        if segs == ("tags",):
            return list_of(STR)
        if segs in ((), ("characteristics",)):
            return MAP
        if len(segs) == 2 and segs[0] == "characteristics":
            return STR
    elif root == EVENT:
        if segs == ("timestamp",):
            return DT
        if segs == ("eventType",):
            return STR
    elif root == SEGMENTS:
        if len(segs) == 3 and segs[2] == "status":
            return STR
        if len(segs) < 3:
            return MAP
    return ANY


def _datetime_text(node: A.Node) -> A.Literal | None:
    """A string literal spelling an RFC 3339 date or date-time, as a date-time literal."""
    if (
        isinstance(node, A.Literal)
        and node.value.__class__ is str
        and len(node.value) <= MAX_DATETIME_TEXT
    ):
        value = parse_datetime(node.value)
        if value is not None:
            lit = A.Literal(node.span, value)
            lit.type = DT
            return lit
    return None


class Checker:
    def __init__(self, text: str, kind: str, aliases: Iterable[str]):
        self.text = text
        self.kind = kind
        self.aliases = frozenset(aliases)
        self.reads = ReadSet()
        self.constraints: dict[tuple[str, str, tuple[str, ...]], tuple[Type, A.Span]] = {}
        self.paths: list[tuple[A.Node, tuple[str, str, tuple[str, ...]]]] = []
        self.compares: list[A.Compare] = []
        self.nvars = 0
        self.depth = 0

    # ---- helpers ----------------------------------------------------------------------------
    def error(self, code: str, message: str, span: A.Span, hint: str | None = None) -> PqlTypeError:
        width = span.end - span.start if span.line == span.end_line else 1
        return PqlTypeError(
            code, message, self.text, span.line, span.column, max(1, width), hint=hint
        )

    def new_var(self) -> str:
        self.nvars += 1
        return f"v{self.nvars}"

    def visit(self, node: A.Node, scope: dict[str, Var]) -> A.Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.too_deep(node)
        try:
            return getattr(self, "v_" + type(node).__name__)(node, scope)
        finally:
            self.depth -= 1

    def too_deep(self, node: A.Node) -> None:
        """Bound the expression tree, so no phase can recurse past Python's limits."""
        raise PqlLimitError(
            "expression_too_deep",
            f"The expression nests more than {MAX_DEPTH} operations deep; "
            "split it with let or simplify it",
            self.text,
            node.span.line,
            node.span.column,
        )

    def origin_of(self, node: A.Node) -> Origin | None:
        if isinstance(node, A.Path):
            if node.root == VAR:
                var = self._vars.get(node.key)
                if var is None or var.origin is None:
                    return None
                root, key, segs = var.origin
                return (root, key, segs + node.segments)
            if node.root == EVENTS:
                return (EVENT, "", node.segments)
            return (node.root, node.key, node.segments)
        if isinstance(node, A.Member):
            base = self.origin_of(node.target)
            return None if base is None else (base[0], base[1], (*base[2], node.name))
        if isinstance(node, A.Quant) and node.kind == "select":
            return self.origin_of(node.source)
        if isinstance(node, A.Call) and node.target is not None:
            if node.name in _LIST_OF_TARGET:
                return self.origin_of(node.target)
            if node.name in _ITEM_OF_TARGET:
                return self.item_origin(node.target)
        return None

    def item_origin(self, collection: A.Node) -> Origin | None:
        """Where the items of a collection come from (xEvent's items are events)."""
        origin = self.origin_of(collection)
        if origin is None or (isinstance(collection, A.Path) and collection.root == EVENTS):
            return origin
        return (origin[0], origin[1], (*origin[2], ITEM))

    def constraint_key(self, node: A.Node) -> tuple[str, str, tuple[str, ...]] | None:
        origin = self.origin_of(node)
        if origin is not None and origin[0] != SEGMENTS:
            return origin
        if isinstance(node, A.Path) and node.root == VAR:
            return (VAR, node.key, node.segments)
        return None

    def constrain(self, node: A.Node, t: Type, span: A.Span | None = None) -> None:
        """Note that data at ``node`` is used as ``t``; a second, incompatible use is an error."""
        if t.kind in ("any", "null") or not isinstance(node, A.Path | A.Member):
            return
        key = self.constraint_key(node)
        if key is None:
            return
        seen = self.constraints.get(key)
        if seen is None:
            self.constraints[key] = (t, span or node.span)
            return
        before, where = seen
        if {before.kind, t.kind} == {"string", "datetime"}:
            self.constraints[key] = (DT, where)  # RFC 3339 strings are date-times
            return
        if not compatible(before, t):
            name = ".".join(key[2]) or "this value"
            raise self.error(
                "conflicting_types",
                f"{name} is used as a {t} here but as a {before} at line {where.line}, "
                f"column {where.column}",
                span or node.span,
            )

    def mismatch(self, node: A.Node, want: Type, code: str, message: str, span: A.Span) -> None:
        """Raise a type error; when ``node``'s type came from an earlier use of the same path,
        say so -- that is the mistake to fix."""
        key = self.constraint_key(node) if node.type.kind == "any" else None
        if key is not None and key in self.constraints:
            before, where = self.constraints[key]
            name = ".".join(s for s in key[2] if s != ITEM) or "this value"
            raise self.error(
                "conflicting_types",
                f"{name} is used as a {want} here but as a {before} at line {where.line}, "
                f"column {where.column}",
                span,
            )
        raise self.error(code, message, span)

    def effective(self, node: A.Node) -> Type:
        """A node's type, refined by what its path has been constrained to so far."""
        if node.type.kind == "any" and isinstance(node, A.Path | A.Member):
            key = self.constraint_key(node)
            if key in self.constraints:
                return self.constraints[key][0]
        return node.type

    # ---- paths --------------------------------------------------------------------------------
    _vars: dict[str, Var]

    def root_path(
        self, base: A.Node, scope: dict[str, Var], segs: tuple[str, ...], span: A.Span
    ) -> A.Path:
        if isinstance(base, A.ContextRef):
            return A.Path(span, CONTEXT, base.ref, segs)
        assert isinstance(base, A.Name)
        name = base.name
        if name in scope:
            return A.Path(span, VAR, scope[name].id, segs)
        if name in ("profile", "$1"):
            return A.Path(span, PROFILE, "", segs)
        if name == "xEvent":
            return A.Path(span, EVENT if segs else EVENTS, "", segs)
        if name == "offer":
            if self.kind == "rule":
                raise self.error(
                    "offer_in_rule",
                    "`offer` is only available in ranking formulas, not in decision rules",
                    base.span,
                )
            if segs[:1] == ("_id",):  # Adobe's offer._id is the read model's id
                segs = ("id", *segs[1:])
            return A.Path(span, OFFER, "", segs)
        if name in self.aliases:
            return A.Path(span, ALIAS, name, segs)
        if name == "segmentMembership":
            return A.Path(span, SEGMENTS, "", segs)
        return A.Path(span, PROFILE, "", (name, *segs))

    def finish_path(self, path: A.Path) -> A.Path:
        if len(path.segments) > MAX_DEPTH:
            self.too_deep(path)
        origin = self.origin_of(path)
        if path.root == EVENTS:
            path.type = LIST
        elif path.root == VAR and not path.segments:
            path.type = self._vars[path.key].type
        elif origin is not None:
            path.type = known_type(origin)
        self.record(origin, path.span)
        key = self.constraint_key(path)
        if key is not None:
            self.paths.append((path, key))
        return path

    def record(self, origin: Origin | None, span: A.Span) -> None:
        if origin is None:
            return
        root, key, segs = origin
        if ITEM in segs:
            segs = tuple(s for s in segs if s != ITEM)
        if root in _ROOT_READS:
            self.reads.add(_ROOT_READS[root], key, segs, span)
        elif root == SEGMENTS and len(segs) >= 2:
            self.reads.segments.setdefault(segs[1], span)

    # ---- leaves -------------------------------------------------------------------------------
    def v_Literal(self, node: A.Literal, scope: dict[str, Var]) -> A.Node:
        v = node.value
        node.type = (
            NULL if v is None else BOOL if v.__class__ is bool else STR if v.__class__ is str
            else DT if v.__class__ is datetime else NUM
        )  # fmt: skip
        return node

    def v_ListLit(self, node: A.ListLit, scope: dict[str, Var]) -> A.Node:
        node.items = tuple(self.visit(i, scope) for i in node.items)
        elem: Type | None = None
        for item in node.items:
            self.no_period(item)
            elem = item.type if elem is None else unify(elem, item.type)
        node.type = list_of(elem or ANY)
        return node

    def v_TimeWord(self, node: A.TimeWord, scope: dict[str, Var]) -> A.Node:
        node.type = DT
        return node

    def v_Period(self, node: A.Period, scope: dict[str, Var]) -> A.Node:
        raise self.error(
            "period_outside_occurs",
            f"`{self.text[node.span.start : node.span.end]}` is a time period: "
            "use it after `occurs` (e.g. `timestamp occurs last 7 days`)",
            node.span,
        )

    def no_period(self, node: A.Node) -> None:
        if node.type.kind == "period":
            self.v_Period(node, {})  # raises

    def v_Name(self, node: A.Name, scope: dict[str, Var]) -> A.Node:
        return self.finish_path(self.root_path(node, scope, (), node.span))

    def v_ContextRef(self, node: A.ContextRef, scope: dict[str, Var]) -> A.Node:
        return self.finish_path(A.Path(node.span, CONTEXT, node.ref, ()))

    def v_Path(self, node: A.Path, scope: dict[str, Var]) -> A.Node:
        return node  # already resolved (shared source of an implicit select)

    def v_Member(self, node: A.Member, scope: dict[str, Var]) -> A.Node:
        chain: list[A.Member] = []
        base: A.Node = node
        while isinstance(base, A.Member):
            chain.append(base)
            base = base.target
        chain.reverse()
        names = tuple(m.name for m in chain)
        if isinstance(base, A.Name | A.ContextRef):
            return self.finish_path(self.root_path(base, scope, names, node.span))
        target = self.visit(base, scope)
        if isinstance(target, A.Path) and target.root != EVENTS:
            return self.finish_path(
                A.Path(target.span.to(node.span), target.root, target.key, target.segments + names)
            )
        if self.depth + len(chain) > MAX_DEPTH:
            self.too_deep(node)
        for m in chain:
            m.target = target
            origin = self.origin_of(m)
            m.type = known_type(origin) if origin else ANY
            self.record(origin, m.span)
            key = self.constraint_key(m)
            if key is not None:
                self.paths.append((m, key))
            target = m
        return target

    # ---- operators ----------------------------------------------------------------------------
    def v_Unary(self, node: A.Unary, scope: dict[str, Var]) -> A.Node:
        node.operand = self.visit(node.operand, scope)
        self.no_period(node.operand)
        if node.op == "not":
            node.type = BOOL
            return node
        self.expect_number(node.operand, "-")
        node.type = NUM
        return node

    def v_BoolOp(self, node: A.BoolOp, scope: dict[str, Var]) -> A.Node:
        node.operands = tuple(self.visit(o, scope) for o in node.operands)
        for o in node.operands:
            self.no_period(o)
        node.type = BOOL
        return node

    def expect_number(self, node: A.Node, op: str) -> None:
        t = self.effective(node)
        if t.kind not in ("number", "any", "null"):
            message = f"`{op}` needs numbers, but this is a {t}"
            self.mismatch(node, NUM, "not_a_number", message, node.span)
        self.constrain(node, NUM)

    def v_Arith(self, node: A.Arith, scope: dict[str, Var]) -> A.Node:
        node.left = self.visit(node.left, scope)
        node.right = self.visit(node.right, scope)
        for side in (node.left, node.right):
            self.no_period(side)
            if isinstance(side, A.Literal) and side.value is None:
                raise self.error(
                    "null_arithmetic", "Arithmetic with null is always null", side.span
                )
        lt, rt = self.effective(node.left), self.effective(node.right)
        if node.op == "+" and "string" in (lt.kind, rt.kind):
            for side, t in ((node.left, lt), (node.right, rt)):
                if t.kind not in ("string", "any"):
                    raise self.error(
                        "type_mismatch", f"`+` joins strings, but this is a {t}", side.span
                    )
                self.constrain(side, STR)
            node.type = STR
            return node
        if node.op == "+" and lt.kind == "any" and rt.kind == "any":
            node.type = ANY  # number or string: only the data knows
            return node
        self.expect_number(node.left, node.op)
        self.expect_number(node.right, node.op)
        node.type = NUM
        return node

    def date_literal(self, node: A.Node) -> A.Node | None:
        """A string literal where a date-time is required, as a date-time literal (or an error
        if it does not spell one); None for anything that is not a string literal."""
        if not (isinstance(node, A.Literal) and node.value.__class__ is str):
            return None
        lit = _datetime_text(node)
        if lit is None:
            raise self.error(
                "not_a_datetime",
                f'{node.value!r} is not a date-time; write e.g. "2024-05-01T00:00:00Z" '
                "or date(2024, 5, 1)",
                node.span,
            )
        return lit

    def v_Compare(self, node: A.Compare, scope: dict[str, Var]) -> A.Node:
        node.left = self.visit(node.left, scope)
        node.right = self.visit(node.right, scope)
        for side in (node.left, node.right):
            self.no_period(side)
            if isinstance(side, A.Literal) and side.value is None:
                raise self.error(
                    "compare_null",
                    "Comparing with null is always false: use .isNull() or .isNotNull()",
                    node.span,
                )
        self.compare_types(node)
        self.compares.append(node)
        node.type = BOOL
        return node

    def compare_types(self, node: A.Compare) -> None:
        lt, rt = self.effective(node.left), self.effective(node.right)
        if lt.kind == "datetime" and (lit := self.date_literal(node.right)) is not None:
            node.right, rt = lit, DT
        elif rt.kind == "datetime" and (lit := self.date_literal(node.left)) is not None:
            node.left, lt = lit, DT
        elif lt.kind == "any" and (lit := _datetime_text(node.right)) is not None:
            node.right, rt = lit, DT  # a date-time string literal: compare as instants
        elif rt.kind == "any" and (lit := _datetime_text(node.left)) is not None:
            node.left, lt = lit, DT
        if not compatible(lt, rt):
            message = f"Cannot compare a {lt} with a {rt}"
            derived = (
                node.left if self.constraint_key(node.left) in self.constraints else node.right
            )
            other = rt if derived is node.left else lt
            self.mismatch(derived, other, "type_mismatch", message, node.span)
        if node.op not in ("=", "!=") and (lt.kind not in _ORDERABLE or rt.kind not in _ORDERABLE):
            bad = lt if lt.kind not in _ORDERABLE else rt
            raise self.error(
                "not_orderable",
                f"`{node.op}` orders numbers, strings and date-times, not a {bad}",
                node.span,
            )
        self.constrain(node.left, rt, node.span)
        self.constrain(node.right, lt, node.span)

    def v_In(self, node: A.In, scope: dict[str, Var]) -> A.Node:
        node.item = self.visit(node.item, scope)
        node.collection = self.visit(node.collection, scope)
        self.no_period(node.item)
        keyword = "notIn" if node.negate else "in"
        if isinstance(node.item, A.Literal) and node.item.value is None:
            raise self.error(
                "compare_null", f"`null {keyword}` is always false: use .isNull()", node.span
            )
        ct = self.effective(node.collection)
        if ct.kind not in ("list", "any"):
            raise self.error(
                "not_a_list",
                f"`{keyword}` needs a list on its right, but this is a {ct}",
                node.collection.span,
            )
        elem, it = elem_of(ct), self.effective(node.item)
        if not compatible(it, elem):
            raise self.error(
                "type_mismatch", f"Cannot look for a {it} in a list of {elem}", node.span
            )
        self.constrain(node.item, elem, node.span)
        node.type = BOOL
        return node

    def v_If(self, node: A.If, scope: dict[str, Var]) -> A.Node:
        node.cond = self.visit(node.cond, scope)
        node.then = self.visit(node.then, scope)
        node.other = self.visit(node.other, scope)
        for part in (node.cond, node.then, node.other):
            self.no_period(part)
        node.type = unify(node.then.type, node.other.type)
        return node

    # ---- select / exists / forall / let / lambda ---------------------------------------------
    def bind(self, scope: dict[str, Var], name: str, var: Var) -> dict[str, Var]:
        self._vars[var.id] = var
        inner = dict(scope)
        inner.pop(name, None)  # re-insert so the innermost binding is last
        inner[name] = var
        return inner

    def v_Quant(self, node: A.Quant, scope: dict[str, Var]) -> A.Node:
        node.source = self.visit(node.source, scope)
        st = self.effective(node.source)
        if st.kind not in ("list", "any", "map"):
            raise self.error(
                "not_a_list",
                f"`{node.kind} ... from` needs a list (or an object), but this is a {st}",
                node.source.span,
            )
        elem = elem_of(st)
        node.var = self.new_var()
        var = Var(node.var, elem, self.item_origin(node.source), node)
        inner = self.bind(scope, node.param, var)
        if node.where is not None:
            node.where = self.visit(node.where, inner)
            self.no_period(node.where)
        node.type = list_of(elem) if node.kind == "select" else BOOL
        return node

    def v_Let(self, node: A.Let, scope: dict[str, Var]) -> A.Node:
        values, ids = [], []
        for name, value in zip(node.names, node.values, strict=True):
            value = self.visit(value, scope)
            self.no_period(value)
            var = Var(self.new_var(), value.type, self.origin_of(value))
            scope = self.bind(scope, name, var)
            values.append(value)
            ids.append(var.id)
        node.values, node.vars = tuple(values), tuple(ids)
        node.body = self.visit(node.body, scope)
        node.type = node.body.type
        return node

    def v_Lambda(self, node: A.Lambda, scope: dict[str, Var]) -> A.Node:
        raise self.error(
            "misplaced_lambda",
            "A lambda (x => ...) only goes inside filter, map, groupBy, topN or bottomN",
            node.span,
        )

    def lambda_arg(self, arg: A.Node, target: A.Node, scope: dict[str, Var], key: bool) -> A.Lambda:
        elem, origin = elem_of(self.effective(target)), self.item_origin(target)
        if isinstance(arg, A.Lambda):
            var = Var(self.new_var(), elem, origin)
            arg.var = var.id
            arg.body = self.visit(arg.body, self.bind(scope, arg.param, var))
            self.no_period(arg.body)
            arg.type = arg.body.type
            return arg
        if key:  # topN(price, 3): a path relative to each item
            names: list[str] = []
            base = arg
            while isinstance(base, A.Member):
                names.append(base.name)
                base = base.target
            if isinstance(base, A.Name) and base.name not in scope:
                names.append(base.name)
                var = Var(self.new_var(), elem, origin)
                self._vars[var.id] = var
                body = self.finish_path(A.Path(arg.span, VAR, var.id, tuple(reversed(names))))
                lam = A.Lambda(arg.span, "item", body, var.id)
                lam.type = body.type
                return lam
        raise self.error("expected_lambda", "Expected a lambda such as `x => x.amount`", arg.span)

    # ---- occurs -------------------------------------------------------------------------------
    def expect_datetime(self, node: A.Node, what: str) -> A.Node:
        lit = self.date_literal(node)
        if lit is not None:
            return lit
        t = self.effective(node)
        if t.kind not in ("datetime", "any"):
            message = f"{what} needs a date-time, but this is a {t}"
            self.mismatch(node, DT, "not_a_datetime", message, node.span)
        self.constrain(node, DT)
        return node

    def time_operand(self, node: A.Node, scope: dict[str, Var]) -> A.Node:
        if isinstance(node, A.Period):
            if node.rel == "this" and node.count is not None:
                raise self.error(
                    "bad_period",
                    "`this` takes no count: write `this month` or `last 3 months`",
                    node.span,
                )
            node.unit = unit_name(node.unit)
            node.type = PERIOD
            return node
        return self.expect_datetime(self.visit(node, scope), "occurs")

    def v_Occurs(self, node: A.Occurs, scope: dict[str, Var]) -> A.Node:
        node.ts = self.expect_datetime(self.visit(node.ts, scope), "occurs")
        node.t1 = self.time_operand(node.t1, scope)
        if node.t2 is not None:
            node.t2 = self.time_operand(node.t2, scope)
        if node.form == "cmp":
            node.unit = unit_name(node.unit)
        node.type = BOOL
        return node

    # ---- calls --------------------------------------------------------------------------------
    def v_Call(self, node: A.Call, scope: dict[str, Var]) -> A.Node:
        if node.target is None:
            return self.function(node, scope)
        fn = METHODS.get(node.name)
        if fn is None:
            raise self.unknown(node, METHODS, "method")
        self.arity(node, fn)
        if fn.name == "get":
            return self.get(node, scope)
        node.target = self.visit(node.target, scope)
        tt = self.effective(node.target)
        if tt.kind == "boolean" and fn.name == "count":
            node.target = self.implicit_select(node, scope)
            tt = node.target.type
        self.check_target(node, fn, tt)
        return self.arguments(node, fn, scope)

    def unknown(self, node: A.Call, table: dict[str, Fn], what: str) -> PqlTypeError:
        close = difflib.get_close_matches(node.name, table, n=1)
        hint = f"did you mean {close[0]}()?" if close else None
        return self.error(
            f"unknown_{what}",
            f"Unknown {what} {node.name}()" + (f"; {hint}" if hint else ""),
            node.name_span or node.span,
            hint,
        )

    def arity(self, node: A.Call, fn: Fn) -> None:
        most = len(fn.params)
        least = most - fn.optional
        if not least <= len(node.args) <= most:
            want = str(most) if least == most else f"{least} or {most}"
            raise self.error(
                "wrong_arity",
                f"{fn.name}() takes {want} argument{'s' if most != 1 else ''}, "
                f"not {len(node.args)}",
                node.span,
            )

    def get(self, node: A.Call, scope: dict[str, Var]) -> A.Node:
        target = self.visit(node.target, scope)  # type: ignore[arg-type]
        key = node.args[0]
        if isinstance(key, A.Literal) and key.value.__class__ is str and isinstance(target, A.Path):
            root = EVENT if target.root == EVENTS else target.root
            return self.finish_path(
                A.Path(node.span, root, target.key, (*target.segments, key.value))
            )
        tt = self.effective(target)
        if tt.kind not in ("map", "any", "list"):
            raise self.error("wrong_target", f"get() works on objects, not a {tt}", node.span)
        node.target = target
        node.args = (self.visit(key, scope),)
        self.no_period(node.args[0])
        node.type = ANY
        return node

    def implicit_select(self, node: A.Call, scope: dict[str, Var]) -> A.Node:
        """``(cond over e).count()`` inside ``select e from S where ...``: how many of S pass."""
        cond = node.target
        assert cond is not None
        used = {n.key for n in A.walk(cond) if isinstance(n, A.Path) and n.root == VAR}
        for name, var in reversed(list(scope.items())):
            if var.quant is not None and var.id in used:
                q = A.Quant(cond.span, "select", name, var.quant.source, cond, var.id)
                q.type = list_of(var.type)
                return q
        raise self.error(
            "wrong_target",
            f"{node.name}() works on lists, but this is a boolean",
            node.span,
        )

    def check_target(self, node: A.Call, fn: Fn, tt: Type) -> None:
        target = node.target
        assert target is not None
        self.no_period(target)
        ok = {
            "string": ("string", "any"),
            "datetime": ("datetime", "any"),
            "collection": ("list", "any", "map"),
            "map": ("map", "any", "list"),
            "any": None,
        }[fn.target or "any"]
        if fn.target == "datetime" and (lit := self.date_literal(target)) is not None:
            node.target = lit
            return
        if ok is not None and tt.kind not in ok:
            noun = {"collection": "lists", "map": "objects", "datetime": "date-times"}.get(
                fn.target or "", "strings"
            )
            hint = (
                "use includes() on a list" if fn.name == "contains" and tt.kind == "list" else None
            )
            raise self.error(
                "wrong_target",
                f"{fn.name}() works on {noun}, but this is a {tt}" + (f" ({hint})" if hint else ""),
                node.span,
                hint,
            )
        if fn.target == "string":
            self.constrain(target, STR, node.span)
        elif fn.target == "datetime":
            self.constrain(target, DT, node.span)

    def arguments(self, node: A.Call, fn: Fn, scope: dict[str, Var]) -> A.Node:
        args = list(node.args)
        cs = True
        if "flag" in fn.params and len(args) == len(fn.params):
            flag = args.pop()
            if not (isinstance(flag, A.Literal) and flag.value.__class__ is bool):
                raise self.error(
                    "flag_not_literal",
                    f"The case-sensitivity flag of {fn.name}() must be true or false",
                    flag.span,
                )
            cs = flag.value
        out: list[A.Node] = []
        for kind, arg in zip(fn.params, args, strict=False):
            out.append(self.argument(node, fn, kind, arg, scope, cs))
        node.args = tuple(a for a in out if a is not None)
        if fn.target == "string" and fn.params[0] == "string":
            node.data = cs
        tt = self.effective(node.target) if node.target is not None else ANY
        if fn.result == "elem":
            node.type = elem_of(tt)
        elif fn.result == "same":
            node.type = list_of(elem_of(tt))
        else:
            assert isinstance(fn.result, Type)
            node.type = fn.result
        return node

    def argument(
        self, node: A.Call, fn: Fn, kind: str, arg: A.Node, scope: dict[str, Var], cs: bool
    ) -> Any:
        if kind in ("lambda", "key"):
            assert node.target is not None
            return self.lambda_arg(arg, node.target, scope, key=kind == "key")
        if kind in ("regex", "like"):
            if not (isinstance(arg, A.Literal) and arg.value.__class__ is str):
                raise self.error(
                    "pattern_not_literal",
                    f"The pattern of {fn.name}() must be a string literal",
                    arg.span,
                )
            try:
                node.data = (like if kind == "like" else regex)(arg.value, cs)
            except PatternTooCostly as exc:
                raise PqlLimitError(
                    exc.code, exc.message, self.text, arg.span.line, arg.span.column
                ) from None
            except re2.error as exc:
                detail = (
                    exc.args[0].decode()
                    if exc.args and isinstance(exc.args[0], bytes)
                    else str(exc)
                )
                raise self.error(
                    "bad_regex",
                    f"This pattern is not a valid regular expression: {detail}",
                    arg.span,
                ) from None
            return None
        arg = self.visit(arg, scope)
        self.no_period(arg)
        t = self.effective(arg)
        if kind == "string":
            if t.kind not in ("string", "any"):
                raise self.error(
                    "type_mismatch", f"{fn.name}() needs a string here, not a {t}", arg.span
                )
            self.constrain(arg, STR)
        elif kind == "int":
            if t.kind not in ("number", "any"):
                raise self.error(
                    "type_mismatch", f"{fn.name}() needs a number here, not a {t}", arg.span
                )
            literal = isinstance(arg, A.Literal)
            if (
                literal
                and fn.name in ("topN", "bottomN")
                and not (arg.value.__class__ is int and 0 <= arg.value <= MAX_TOP_N)
            ):
                raise PqlLimitError(
                    "top_n_too_large",
                    f"{fn.name}() takes a whole number from 0 to {MAX_TOP_N}",
                    self.text,
                    arg.span.line,
                    arg.span.column,
                )
            self.constrain(arg, NUM)
        elif kind == "collection" and t.kind in ("boolean", "null"):
            raise self.error("type_mismatch", f"{fn.name}() needs a list here, not a {t}", arg.span)
        return arg

    def function(self, node: A.Call, scope: dict[str, Var]) -> A.Node:
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            if node.name in METHODS:
                raise self.error(
                    "unknown_function",
                    f"{node.name}() is a method: write value.{node.name}(...)",
                    node.name_span or node.span,
                )
            raise self.unknown(node, FUNCTIONS, "function")
        self.arity(node, fn)
        if fn.name == "if":
            cond, then, other = node.args
            return self.v_If(A.If(node.span, cond, then, other), scope)
        if fn.name == "date":
            return self.date(node)
        node.args = tuple(self.visit(a, scope) for a in node.args)
        if fn.name == "inSegment":
            arg = node.args[0]
            t = self.effective(arg)
            if t.kind not in ("string", "any"):
                raise self.error(
                    "type_mismatch",
                    f"inSegment() needs an audience id string, not a {t}",
                    arg.span,
                )
            if isinstance(arg, A.Literal):
                self.reads.segments.setdefault(arg.value, arg.span)
        node.type = fn.result if isinstance(fn.result, Type) else ANY
        return node

    def date(self, node: A.Call) -> A.Node:
        parts = []
        for arg in node.args:
            if not (isinstance(arg, A.Literal) and arg.value.__class__ is int):
                raise self.error(
                    "bad_date",
                    "date() takes three whole numbers: date(year, month, day)",
                    arg.span,
                )
            parts.append(arg.value)
        try:
            value = date_value(*parts)
        except (ValueError, OverflowError):
            raise self.error(
                "bad_date", f"date({', '.join(map(str, parts))}) is not a calendar day", node.span
            ) from None
        lit = A.Literal(node.span, value, True)
        lit.type = DT
        return lit

    # ---- whole expression ---------------------------------------------------------------------
    def check(self, root: A.Node) -> Checked:
        self._vars = {}
        root = self.visit(root, {})
        self.no_period(root)
        for node, key in self.paths:
            if node.type.kind == "any" and key in self.constraints:
                node.type = self.constraints[key][0]
        for cmp in self.compares:
            self.compare_types(cmp)
        self.check_result(root)
        self.check_attribute_limits()
        return Checked(root, self.reads, self.kind)

    def check_result(self, root: A.Node) -> None:
        t = root.type
        if self.kind == "rule" and t.kind not in ("boolean", "any", "list"):
            raise self.error(
                "rule_not_boolean",
                f"A decision rule must be a condition (true or false), but this is a {t}",
                root.span,
            )
        if self.kind == "formula" and t.kind not in ("number", "any", "null"):
            raise self.error(
                "formula_not_number",
                f"A ranking formula must compute a number, but this is a {t}",
                root.span,
            )

    def check_attribute_limits(self) -> None:
        for kind, limit, noun in (
            ("profile", MAX_PROFILE_ATTRIBUTES, "profile"),
            ("context", MAX_CONTEXT_ATTRIBUTES, "context"),
        ):
            attrs = self.reads.attributes(kind)
            if len(attrs) > limit:
                span = attrs[limit][1]
                raise PqlLimitError(
                    f"too_many_{kind}_attributes",
                    f"A {self.kind} may read at most {limit} {noun} attributes; "
                    f"this one reads {len(attrs)}",
                    self.text,
                    span.line,
                    span.column,
                )


def check(root: A.Node, text: str, kind: str, aliases: Iterable[str] = ()) -> Checked:
    """Resolve, type and limit-check a parsed expression (mutates and returns its nodes)."""
    return Checker(text, kind, aliases).check(root)


__all__ = ["Checked", "check", "known_type"]
