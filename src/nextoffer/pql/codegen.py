"""Checked AST -> Python source -> a function ``f(env)``, compiled once with ``compile()``.

Safety: the source is built only from this module's templates.  Identifiers are generated
(``a2`` for hoisted paths, ``v3`` for variables, ``t7`` for temporaries, ``K0`` for constants)
or come from the runtime's export table; user text (string and number literals, attribute
names) never enters the source: it travels as the constants ``K0``, ``K1``, ...  Every name and
attribute the compiled code object touches is checked against a whitelist, and the code runs
with empty ``__builtins__``.

Speed: root paths become ``dict.get`` statements computed once at the top (with the ``xdm:``
fallback), comparisons against literals are specialised (``a1.__class__ in NUMS and a1 >= K0``),
literal lists become frozensets, patterns are compiled once; helpers are called off the hot path.
Helpers whose cost grows with the data get the work counter ``w`` (see :mod:`.runtime`).
Generated source is cached, so rules of the same shape share one code object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from types import CodeType
from typing import Any

from . import ast as A
from .ast import ALIAS, CONTEXT, EVENT, EVENTS, OFFER, PROFILE, SEGMENTS, VAR
from .checker import Checked
from .functions import METHODS
from .limits import MAX_WORK
from .runtime import EXPORTS, LIVE_STATUSES, day_of, point

# Node classes whose generated code always yields a real bool.
_SURE_BOOL = (A.Compare, A.BoolOp, A.In, A.Occurs)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_PY_OP = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ROOTS = {
    PROFILE: "p", CONTEXT: "c", OFFER: "o", EVENT: "ev", EVENTS: "ev", SEGMENTS: "sg",
    ALIAS: "al",
}  # fmt: skip
_PROLOGUE = {
    "p": "p = env.profile",
    "c": "c = env.context",
    "o": "o = env.offer",
    "ev": "ev = env.events",
    "sg": "sg = env.segments",
    "al": "al = env.aliases",
    "now": "now = utc(env.now)",
    "w": f"w = [{MAX_WORK}]",
}
_ALLOWED_ATTRS = frozenset(
    [
        "profile",
        "context",
        "events",
        "segments",
        "offer",
        "aliases",
        "now",
        "get",
        "__class__",
        "month",
        "year",
        "day",
    ]
)
_CONSTANT = re.compile(r"K[0-9]+\Z")
_GENERATED_NAME = re.compile(r"(?:[tvKa][0-9]+|_pql|env|p|c|o|ev|sg|al|now|w|NUMS|LIVE)\Z")


# The only builtin generated code may name (for ``x.__class__ is str`` guards).
_BUILTINS = {"str": str}


_GLOBALS = {**EXPORTS, **_BUILTINS, "LIVE": LIVE_STATUSES}  # EXPORTS holds NUMS


class UnsafeSource(RuntimeError):
    """The generator produced a name outside its whitelist: a bug, never user-triggerable."""


class CodeGen:
    def __init__(self, checked: Checked):
        self.checked = checked
        self.consts: list[Any] = []
        self.const_names: dict[Any, str] = {}
        self.uses: set[str] = set()
        self.ntmp = 0
        self.nlocal = 0
        self.lines: list[str] = []  # statements computing hoisted root paths
        self.hoisted: dict[tuple[str, str, tuple[str, ...]], str] = {}

    # ---- small tools ----------------------------------------------------------------------------
    def tmp(self) -> str:
        self.ntmp += 1
        return f"t{self.ntmp}"

    def const(self, value: Any) -> str:
        """A closure constant holding ``value``; equal values share one."""
        cls = value.__class__
        key = (cls, value) if cls is str or cls is int or cls is float else (id(value),)
        name = self.const_names.get(key)
        if name is None:
            name = self.const_names[key] = f"K{len(self.consts)}"
            self.consts.append(value)
        return name

    def lit(self, value: Any) -> str:
        """A literal value as source.  Only None/True/False are written out; strings and
        numbers (user text) become closure constants, so the source depends only on the
        rule's shape and rules that differ in literals share one compiled code object."""
        if value is None or value.__class__ is bool:
            return repr(value)
        return self.const(value)

    def root(self, kind: str) -> str:
        name = _ROOTS[kind]
        self.uses.add(name)
        return name

    def work(self) -> str:
        self.uses.add("w")
        return "w"

    def now(self) -> str:
        self.uses.add("now")
        return "now"

    def truth(self, node: A.Node) -> str:
        code = self.expr(node)
        if (
            isinstance(node, _SURE_BOOL)
            or (isinstance(node, A.Unary) and node.op == "not")
            or (isinstance(node, A.Literal) and node.value.__class__ is bool)
            or (isinstance(node, A.Quant) and node.kind != "select")
            or (isinstance(node, A.Call) and node.type.kind == "boolean")
        ):
            return code
        return f"truth({code})"

    # ---- dispatch -------------------------------------------------------------------------------
    def expr(self, node: A.Node) -> str:
        method: Callable[[Any], str] = getattr(self, "g_" + type(node).__name__)
        return method(node)

    def g_Literal(self, node: A.Literal) -> str:
        return self.lit(node.value)

    def g_ListLit(self, node: A.ListLit) -> str:
        return "[" + ", ".join(self.expr(i) for i in node.items) + "]"

    def g_TimeWord(self, node: A.TimeWord) -> str:
        if node.word == "now":
            return self.now()
        return f"time_value({node.word!r}, {self.now()})"

    def hoist(self, root: str, key: str, segs: tuple[str, ...]) -> str:
        """A local holding a root path's value, computed once at the top of the function.

        Root paths are pure lookups, so computing them up front (sharing prefixes between
        paths) changes no result and keeps the returned expression small and fast.
        """
        ident = (root, key, segs)
        if ident in self.hoisted:
            return self.hoisted[ident]
        if segs:
            parent = self.hoist(root, key, segs[:-1])
            name = self.local()
            k = self.const(segs[-1])
            if root == PROFILE and len(segs) == 1:
                xk = self.const("xdm:" + segs[-1])
                self.lines.append(f"{name} = {parent}.get({k}, {parent}.get({xk}))")
            else:  # a nested step may meet a list (lax path) or null: the runtime's lookup
                self.lines.append(f"{name} = lookup({parent}, {k})")
        elif root == PROFILE:
            name = self.root(PROFILE)
        elif root == CONTEXT:
            name = self.local()
            c, k, xk = self.root(CONTEXT), self.const(key), self.const("xdm:" + key)
            self.lines.append(f"{name} = {c}.get({k}, {c}.get({xk}))")
        elif root == ALIAS:
            name = self.local()
            self.lines.append(f"{name} = {self.root(ALIAS)}.get({self.const(key)})")
        elif root == EVENT:
            name = self.local()
            self.lines.append(f"{name} = first_event({self.root(EVENT)})")
        elif root == SEGMENTS:
            name = self.local()
            self.lines.append(f"{name} = segment_root({self.root(SEGMENTS)})")
        else:
            name = self.root(root)  # offer, events
        self.hoisted[ident] = name
        return name

    def local(self) -> str:
        self.nlocal += 1
        return f"a{self.nlocal}"

    def g_Path(self, node: A.Path) -> str:
        if node.root != VAR:
            return self.hoist(node.root, node.key, node.segments)
        if not node.segments:
            return node.key
        # a variable's path runs once per item of a loop: it pays for the lists it walks
        if len(node.segments) == 1:
            return f"lookup({node.key}, {self.const(node.segments[0])}, {self.work()})"
        return f"path({node.key}, {self.const(node.segments)}, {self.work()})"

    def g_Member(self, node: A.Member) -> str:
        return f"lookup({self.expr(node.target)}, {self.const(node.name)}, {self.work()})"

    def g_Unary(self, node: A.Unary) -> str:
        if node.op == "not":
            return f"(not {self.truth(node.operand)})"
        return f"neg({self.expr(node.operand)})"

    def g_BoolOp(self, node: A.BoolOp) -> str:
        return "(" + f" {node.op} ".join(self.truth(o) for o in node.operands) + ")"

    def g_Arith(self, node: A.Arith) -> str:
        if node.op == "+" and node.type.kind != "number":  # joining strings pays for the copy
            return f"add({self.expr(node.left)}, {self.expr(node.right)}, {self.work()})"
        helper = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}[node.op]
        return f"{helper}({self.expr(node.left)}, {self.expr(node.right)})"

    def g_If(self, node: A.If) -> str:
        return f"({self.expr(node.then)} if {self.truth(node.cond)} else {self.expr(node.other)})"

    # ---- comparisons ----------------------------------------------------------------------------
    def g_Compare(self, node: A.Compare) -> str:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, A.Literal) and not isinstance(right, A.Literal):
            left, right, op = right, left, _FLIP[op]
        if "datetime" in (left.type.kind, right.type.kind):
            return self.compare_dt(op, left, right)
        if isinstance(right, A.Literal):
            return self.compare_literal(op, self.expr(left), right.value)
        # two data values: long strings and lists pay for what they compare
        helper = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
        return f"{helper}({self.expr(left)}, {self.expr(right)}, {self.work()})"

    def named(self, code: str) -> tuple[str, str]:
        """(binding, name): a walrus binding for an expression, nothing for a plain local."""
        if code.isidentifier():
            return code, code
        t = self.tmp()
        return f"({t} := {code})", t

    def compare_literal(self, op: str, code: str, value: Any) -> str:
        py = _PY_OP[op]
        if value.__class__ is bool:
            if op == "=":
                return f"({code} is {value!r})"
            return f"({code} is {(not value)!r})"
        if value.__class__ is str:
            if op == "=":
                return f"({code} == {self.lit(value)})"
            bind, t = self.named(code)
            return f"({bind}.__class__ is str and {t} {py} {self.lit(value)})"
        # a number
        if op == "=" and value not in (0, 1):
            return f"({code} == {self.lit(value)})"
        bind, t = self.named(code)
        return f"({bind}.__class__ in NUMS and {t} {py} {self.lit(value)})"

    def compare_dt(self, op: str, left: A.Node, right: A.Node) -> str:
        if isinstance(right, A.Literal) and right.value is not None:
            t, value = self.tmp(), self.lit(right.value)
            return f"(({t} := to_dt({self.expr(left)})) is not None and {t} {_PY_OP[op]} {value})"
        return f"dt_compare({op!r}, {self.expr(left)}, {self.expr(right)})"

    def g_In(self, node: A.In) -> str:
        coll = node.collection
        if isinstance(coll, A.ListLit) and all(isinstance(i, A.Literal) for i in coll.items):
            values = [i.value for i in coll.items]  # type: ignore[attr-defined]
            kinds = {v.__class__ for v in values}
            guard = None
            if kinds == {str}:
                guard = "is str"
            elif kinds and kinds <= {int, float}:
                guard = "in NUMS"
            if guard is not None:
                bind, t = self.named(self.expr(node.item))
                member = "not in" if node.negate else "in"
                return (
                    f"({bind}.__class__ {guard} and {t} {member} {self.const(frozenset(values))})"
                )
        helper = "not_in" if node.negate else "is_in"
        return f"{helper}({self.expr(node.item)}, {self.expr(coll)}, {self.work()})"

    # ---- select / let / lambda ------------------------------------------------------------------
    def g_Quant(self, node: A.Quant) -> str:
        pred = self.truth(node.where) if node.where is not None else "True"
        helper = {"select": "select", "exists": "exists", "forall": "forall"}[node.kind]
        return f"{helper}({self.expr(node.source)}, lambda {node.var}: {pred}, {self.work()})"

    def g_Let(self, node: A.Let) -> str:
        binds = ", ".join(
            f"({v} := {self.expr(e)})" for v, e in zip(node.vars, node.values, strict=True)
        )
        return f"({binds}, {self.expr(node.body)})[-1]"

    def g_Lambda(self, node: A.Lambda) -> str:
        return f"lambda {node.var}: {self.expr(node.body)}"

    # ---- time -----------------------------------------------------------------------------------
    def interval(self, node: A.Node) -> str:
        if isinstance(node, A.TimeWord):
            return f"time_word({node.word!r}, {self.now()})"
        if isinstance(node, A.Period):
            return f"period({node.rel!r}, {node.count!r}, {node.unit!r}, {self.now()})"
        if isinstance(node, A.Literal):
            return self.const(day_of(node.value) if node.is_date else point(node.value))
        return f"point({self.expr(node)})"

    def g_Occurs(self, node: A.Occurs) -> str:
        ts, t1 = self.expr(node.ts), self.interval(node.t1)
        if node.form == "cmp":
            return (
                f"occurs_cmp({ts}, {node.op!r}, {node.count!r}, {node.unit!r}, "
                f"{node.direction!r}, {t1})"
            )
        if node.form == "dir":
            return f"occurs_dir({ts}, {node.direction!r}, {t1})"
        if node.form == "on":
            return f"occurs_on({ts}, {t1})"
        assert node.t2 is not None
        return f"occurs_between({ts}, {t1}, {self.interval(node.t2)})"

    # ---- calls ----------------------------------------------------------------------------------
    def g_Call(self, node: A.Call) -> str:
        if node.target is None:
            return self.function(node)
        fn = METHODS[node.name]
        target = self.expr(node.target)
        if fn.name == "isNull":
            return f"({target} is None)"
        if fn.name == "isNotNull":
            return f"({target} is not None)"
        if fn.name == "equals" and node.data is True and isinstance(node.args[0], A.Literal):
            return f"({target} == {self.lit(node.args[0].value)})"
        args = [self.expr(a) for a in node.args]
        if fn.name in ("matches", "like", "regexGroup"):
            args.insert(0, self.const(node.data))
        elif fn.target == "string":
            args.append(repr(node.data))
        if fn.work:
            args.append(self.work())
        return f"{fn.helper}({', '.join([target, *args])})"

    def function(self, node: A.Call) -> str:
        if node.name == "inSegment":
            arg = node.args[0]
            if isinstance(arg, A.Literal):
                return f"({self.root(SEGMENTS)}.get({self.const(arg.value)}) in LIVE)"
            return f"in_segment({self.root(SEGMENTS)}, {self.expr(arg)})"
        # the checker lets no other function through
        part = {"currentMonth": "month", "currentYear": "year", "currentDayOfMonth": "day"}
        return f"{self.now()}.{part[node.name]}"

    # ---- whole function -------------------------------------------------------------------------
    def source(self) -> str:
        """A module defining ``_pql(env)``; constants and helpers are its globals."""
        body = self.expr(self.checked.root)
        lines = ["def _pql(env):"]
        lines += [f"    {_PROLOGUE[n]}" for n in _PROLOGUE if n in self.uses]
        lines += [f"    {line}" for line in self.lines]
        lines += [f"    return {body}", ""]
        return "\n".join(lines)


def _check_whitelist(code: CodeType) -> None:
    """Every name the compiled code touches is a runtime export, a whitelisted attribute or a
    generated local -- checked on the code objects themselves, lambdas included."""
    allowed = set(EXPORTS) | set(_BUILTINS) | _ALLOWED_ATTRS | {"_pql", "LIVE"}
    stack = [code]
    while stack:
        co = stack.pop()
        for name in co.co_names:
            if name not in allowed and not _CONSTANT.match(name):
                raise UnsafeSource(f"generated code uses a name outside the whitelist: {name}")
        for name in (*co.co_varnames, *co.co_cellvars, *co.co_freevars):
            if not _GENERATED_NAME.match(name):
                raise UnsafeSource(f"generated code binds an unexpected name: {name}")
        stack.extend(c for c in co.co_consts if isinstance(c, CodeType))


@lru_cache(maxsize=2048)
def _compile(source: str) -> CodeType:
    """Compile (and vet) generated source.  Cached by source: rules that differ only in their
    literals and attribute names generate the same source and share the code object."""
    code = compile(source, "<pql>", "exec", dont_inherit=True)
    _check_whitelist(code)
    return code


def generate(checked: Checked) -> tuple[str, Callable[[Any], Any]]:
    """Python source for a checked expression, and the function it compiles to."""
    gen = CodeGen(checked)
    source = gen.source()
    code = _compile(source)
    namespace: dict[str, Any] = {"__builtins__": {}, **_GLOBALS}
    namespace.update((f"K{i}", value) for i, value in enumerate(gen.consts))
    exec(code, namespace)  # the generator's own source, vetted by _compile; never user text
    return source, namespace["_pql"]


__all__ = ["UnsafeSource", "generate"]
