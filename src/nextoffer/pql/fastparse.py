"""A recursive-descent reading of ``grammar.lark`` for the common case: speed only.

lark's LALR parser is the reference (and the source of every syntax error); parsing with it
costs about half of a rule's compile time.  This parser walks the same grammar by hand and
builds nodes with the *same* builder methods, so it produces the same AST.  Whenever it meets
anything it is not sure of -- any syntax error, a keyword used as a name -- it gives up
(:class:`Bail`) and :func:`nextoffer.pql.parser.parse` asks lark instead.  The tests parse a
corpus and hypothesis-generated texts with both and require identical trees.
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .lexer import MASTER, TRAILING_WS, keyword

_ARITH = frozenset(("PLUS", "MINUS", "STAR", "SLASH", "PERCENT"))
_CMP = frozenset(("EQ", "NE", "LT", "LE", "GT", "GE"))
_BINOPS = frozenset(("OR", "AND", "IN", "NOTIN", "LIKE")) | _ARITH | _CMP
_PREFIX = frozenset(("NOT", "BANG", "MINUS"))
_DIRECTION = frozenset(("BEFORE", "AFTER", "FROM"))
_SIMPLE = {
    "STRING": "string", "INT": "integer", "FLOAT": "float_", "TRUE": "true", "FALSE": "false",
    "NULL": "null", "DOLLAR": "dollar", "CONTEXT_REF": "context_ref", "TIMEWORD": "timeword",
}  # fmt: skip


class Bail(Exception):
    """Not sure: let lark parse this text."""


class Tok:
    """A token with the attributes the builder reads (a light stand-in for lark's Token)."""

    __slots__ = (
        "column",
        "end_column",
        "end_line",
        "end_pos",
        "line",
        "start_pos",
        "type",
        "value",
    )

    def __init__(self, type_: str, value: str, start: int, end: int, line: int, column: int):
        self.type, self.value, self.start_pos, self.end_pos = type_, value, start, end
        self.line, self.column, self.end_line, self.end_column = (
            line,
            column,
            line,
            column + end - start,
        )


def _tokens(text: str) -> list[Tok]:
    match = MASTER.match
    out: list[Tok] = []
    pos, line, line_start, n = 0, 1, 0, len(text)
    while pos < n:
        m = match(text, pos)
        if m is None:
            if TRAILING_WS.match(text, pos):
                break
            raise Bail
        kind = m.lastgroup
        start = m.start(kind)
        if start != pos and text.find("\n", pos, start) >= 0:
            line += text.count("\n", pos, start)
            line_start = text.rfind("\n", pos, start) + 1
        end = m.end()
        value = m.group(kind)
        if kind == "WORD":
            kind = keyword(value) or "NAME"
        out.append(Tok(kind, value, start, end, line, start - line_start + 1))
        pos = end
    return out


class FastParser:
    def __init__(self, text: str, builder: Any):
        self.toks = _tokens(text)
        self.toks.append(Tok("$END", "", len(text), len(text), 0, 0))
        self.i = 0
        self.b = builder

    def peek(self) -> str:
        return self.toks[self.i].type

    def take(self, kind: str) -> Tok:
        tok = self.toks[self.i]
        if tok.type != kind:
            raise Bail
        self.i += 1
        return tok

    def name(self) -> Tok:
        """A NAME; only a plain name (a keyword here would need lark's contextual reading)."""
        return self.take("NAME")

    # ---- grammar ------------------------------------------------------------------------------
    def parse(self) -> A.Node:
        node = self.chain()
        if self.peek() != "$END":
            raise Bail
        return node

    def chain(self, ops: frozenset[str] = _BINOPS) -> A.Node:
        items: list[Any] = [self.term()]
        while True:
            kind = self.peek()
            if kind in ops:
                items.append(self.toks[self.i])
                self.i += 1
                items.append(self.term())
            elif kind == "OCCURS" and ops is _BINOPS:
                items.append(self.toks[self.i])
                self.i += 1
                items.append(self.occurs_tail())
            else:
                break
        return self.b.chain(items)

    def arith(self) -> A.Node:
        return self.chain(_ARITH)

    def term(self) -> Any:
        children: list[Any] = []
        while self.peek() in _PREFIX:
            children.append(self.toks[self.i])
            self.i += 1
        kind = self.peek()
        if kind == "QUANT":
            children.append(self.select_expr())
            return self.b.term(children)
        if kind == "LET":
            children.append(self.let_expr())
            return self.b.term(children)
        children.append(self.atom())
        while self.peek() == "DOT":
            children.append(self.take("DOT"))
            children.append(self.name())
            if self.peek() == "LPAR":
                children.append(self.take("LPAR"))
                children.append(self.args("RPAR"))
                children.append(self.take("RPAR"))
        return self.b.term(children)

    def atom(self) -> A.Node:
        tok = self.toks[self.i]
        kind = tok.type
        b = self.b
        if kind in _SIMPLE:
            self.i += 1
            return getattr(b, _SIMPLE[kind])([tok])
        if kind == "NAME":
            self.i += 1
            if self.peek() == "LPAR":
                lp = self.take("LPAR")
                args = self.args("RPAR")
                return b.call([tok, lp, args, self.take("RPAR")])
            return b.name([tok])
        if kind == "RELATIVE":
            self.i += 1
            count = self.take("INT") if self.peek() == "INT" else None
            return b.period([tok, count, self.take("UNIT")])
        if kind == "LBRACKET":
            self.i += 1
            args = self.args("RBRACKET")
            return b.array([tok, args, self.take("RBRACKET")])
        if kind == "LPAR":
            self.i += 1
            inner = self.chain()
            return b.paren([tok, inner, self.take("RPAR")])
        raise Bail

    def args(self, close: str) -> list[A.Node] | None:
        if self.peek() == close:
            return None
        items: list[Any] = [self.arg()]
        while self.peek() == "COMMA":
            items.append(self.take("COMMA"))
            items.append(self.arg())
        return self.b.args(items)

    def arg(self) -> A.Node:
        if self.peek() == "NAME" and self.toks[self.i + 1].type == "ARROW":
            param = self.take("NAME")
            arrow = self.take("ARROW")
            return self.b.lambda_([param, arrow, self.chain()])
        return self.chain()

    def select_expr(self) -> A.Node:
        quant = self.take("QUANT")
        var = self.name()
        kind = self.peek()
        if kind not in ("FROM", "COLON"):
            raise Bail
        source = self.b.source([self.take(kind), self.arith()])
        if self.peek() == "WHERE":
            where = self.take("WHERE")
            return self.b.select_expr([quant, var, source, where, self.chain()])
        return self.b.select_expr([quant, var, source, None, None])

    def let_expr(self) -> A.Node:
        children: list[Any] = [self.take("LET")]
        while True:
            name = self.name()
            eq = self.take("EQ")
            children.append(self.b.binding([name, eq, self.arith()]))
            if self.peek() != "COMMA":
                break
            children.append(self.take("COMMA"))
        children.append(self.take("IN"))
        children.append(self.chain())
        return self.b.let_expr(children)

    def occurs_tail(self) -> dict[str, Any]:
        kind = self.peek()
        b = self.b
        if kind in _CMP:
            op = b.cmp_op([self.take(kind)])
            count = self.take("INT")
            unit = self.take("UNIT")
            direction = self.direction()
            return b.occurs_cmp([op, count, unit, direction, self.arith()])
        if kind in _DIRECTION:
            return b.occurs_dir([self.direction(), self.arith()])
        if kind == "ON":
            return b.occurs_on([self.take("ON"), self.arith()])
        if kind == "BETWEEN":
            between = self.take("BETWEEN")
            first = self.arith()
            and_ = self.take("AND")
            return b.occurs_between([between, first, and_, self.arith()])
        return b.occurs_on([self.arith()])

    def direction(self) -> Tok:
        kind = self.peek()
        if kind not in _DIRECTION:
            raise Bail
        return self.b.direction([self.take(kind)])


def fast_parse(text: str, builder: Any) -> A.Node:
    """The AST lark would build for ``text``, or :class:`Bail`."""
    return FastParser(text, builder).parse()
