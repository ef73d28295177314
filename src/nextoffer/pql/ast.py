"""The typed AST both back ends share: the code generator and the tree-walking interpreter.

Every node carries the :class:`Span` of the text it came from, so any later phase (checks,
limits, explanations) can point at the source.  The checker fills ``type`` in place; the
parser leaves it as ``ANY``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import ANY, Type


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in the rule text: 0-based offsets, 1-based line and column."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(self.start, other.end, self.line, self.column, other.end_line, other.end_column)


@dataclass(eq=False, slots=True)
class Node:
    span: Span
    type: Type = field(default=ANY, init=False)

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(eq=False, slots=True)
class Literal(Node):
    """A string, number, boolean, null or ``date(y,m,d)`` (value is then an aware datetime)."""

    value: Any
    is_date: bool = False  # made by date(y,m,d): reads as a whole day in ``occurs``


@dataclass(eq=False, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.items


# Roots a path can start from.  "var" roots are names bound by select/let/lambda.
PROFILE, CONTEXT, OFFER, EVENT, EVENTS, ALIAS, VAR, SEGMENTS = (
    "profile",
    "context",
    "offer",
    "event",
    "events",
    "alias",
    "var",
    "segments",
)


@dataclass(eq=False, slots=True)
class Name(Node):
    """A bare identifier before resolution (``homeAddress``, ``offer``, ``e``)."""

    name: str


@dataclass(eq=False, slots=True)
class ContextRef(Node):
    """``@{schema ref}``: the context data the request sent for that ``@type``."""

    ref: str


@dataclass(eq=False, slots=True)
class Path(Node):
    """A resolved path: ``root`` is one of the root kinds, ``key`` the alias / ref / variable.

    ``segments`` may be empty (the root itself, e.g. ``xEvent`` as a collection).
    """

    root: str
    key: str
    segments: tuple[str, ...]


@dataclass(eq=False, slots=True)
class Member(Node):
    """``target.name`` on a computed value (``(select ...).head().core``)."""

    target: Node
    name: str

    def children(self) -> tuple[Node, ...]:
        return (self.target,)


@dataclass(eq=False, slots=True)
class Call(Node):
    """A function call ``f(args)`` or a method call ``target.f(args)`` (target set)."""

    name: str
    target: Node | None
    args: tuple[Node, ...]
    name_span: Span | None = None
    data: Any = None  # set by the checker: a compiled regex, a case-sensitivity flag, ...

    def children(self) -> tuple[Node, ...]:
        return ((self.target,) if self.target is not None else ()) + self.args


@dataclass(eq=False, slots=True)
class Lambda(Node):
    param: str
    body: Node
    var: str = ""  # unique variable id, set by the checker

    def children(self) -> tuple[Node, ...]:
        return (self.body,)


@dataclass(eq=False, slots=True)
class Unary(Node):
    op: str  # "not" | "neg"
    operand: Node

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(eq=False, slots=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.operands


@dataclass(eq=False, slots=True)
class Compare(Node):
    op: str  # = != < <= > >=
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(eq=False, slots=True)
class Arith(Node):
    op: str  # + - * / %
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(eq=False, slots=True)
class In(Node):
    item: Node
    collection: Node
    negate: bool

    def children(self) -> tuple[Node, ...]:
        return (self.item, self.collection)


@dataclass(eq=False, slots=True)
class If(Node):
    cond: Node
    then: Node
    other: Node

    def children(self) -> tuple[Node, ...]:
        return (self.cond, self.then, self.other)


@dataclass(eq=False, slots=True)
class Quant(Node):
    """``select|exists|forall V from SOURCE where COND``."""

    kind: str
    param: str
    source: Node
    where: Node | None
    var: str = ""

    def children(self) -> tuple[Node, ...]:
        return (self.source,) + ((self.where,) if self.where is not None else ())


@dataclass(eq=False, slots=True)
class Let(Node):
    names: tuple[str, ...]
    values: tuple[Node, ...]
    body: Node
    vars: tuple[str, ...] = ()

    def children(self) -> tuple[Node, ...]:
        return (*self.values, self.body)


@dataclass(eq=False, slots=True)
class TimeWord(Node):
    """``now``, ``today``, ``yesterday``, ``tomorrow``."""

    word: str


@dataclass(eq=False, slots=True)
class Period(Node):
    """``this|last|next [n] unit`` -- only meaningful as an ``occurs`` operand."""

    rel: str
    count: int | None
    unit: str


@dataclass(eq=False, slots=True)
class Occurs(Node):
    """``ts occurs ...`` in its four forms.

    form "cmp": ``ts occurs <op> <count> <unit> <direction> <t1>``;
    form "dir": ``ts occurs before|after|from <t1>``; form "on": ``ts occurs [on] <t1>``;
    form "between": ``ts occurs between <t1> and <t2>``.
    """

    form: str
    ts: Node
    t1: Node
    t2: Node | None = None
    op: str = ""
    count: int = 0
    unit: str = ""
    direction: str = ""

    def children(self) -> tuple[Node, ...]:
        return (self.ts, self.t1) + ((self.t2,) if self.t2 is not None else ())


def walk(node: Node):
    """Yield ``node`` and every descendant, parents first (iteratively: no recursion limit)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children()))
