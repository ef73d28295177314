"""Text -> AST.  The grammar is data (``grammar.lark``); this module builds its nodes.

lark parses with LALR(1) and calls :class:`_Builder` inline, one method per grammar rule, so
no intermediate parse tree is built.  The grammar keeps all tokens, which lets each method take
its node's span from its first and last child.  Lark's exceptions never escape: they become
:class:`PqlSyntaxError`, labelled from :mod:`.mistakes` when the failure matches an example.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast as A
from .errors import PqlLimitError, PqlSyntaxError, position
from .fastparse import Bail, fast_parse
from .lexer import PqlLexer, tokenize
from .limits import MAX_DEPTH, bracket_depths
from .mistakes import MISTAKES
from .syntax_hints import hint

_MAX_INT_DIGITS = 18

# Friendly names for terminals in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACKET": "'['",
    "RBRACKET": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "EQ": "'='",
    "UNIT": "a time unit (days, hours, ...)",
    "$END": "the end of the rule",
    "CONTEXT_REF": "'@{...}'",
    "IN": "'in'",
    "WHERE": "'where'",
    "FROM": "'from'",
    "AND": "'and'",
    "OR": "'or'",
}
_OPERATORS = {
    "EQ", "NE", "LT", "LE", "GT", "GE", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "AND",
    "OR", "NOT", "BANG", "IN", "NOTIN", "LIKE", "OCCURS", "DOT", "COMMA", "ARROW", "WHERE",
    "FROM", "COLON", "BETWEEN", "ON", "BEFORE", "AFTER", "LET",
}  # fmt: skip
_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)


def _span(tok: Token) -> A.Span:
    return A.Span(tok.start_pos, tok.end_pos, tok.line, tok.column, tok.end_line, tok.end_column)


def _sp(item: Any) -> A.Span:
    return item.span if isinstance(item, A.Node) else _span(item)


def _first_last(children: list[Any]) -> A.Span:
    present = [c for c in children if c is not None and not isinstance(c, list | dict)]
    return _sp(present[0]).to(_sp(present[-1]))


class _SyntaxIssue(Exception):
    """Raised inside builder callbacks; turned into PqlSyntaxError with the whole text."""

    def __init__(self, code: str, message: str, span: A.Span):
        super().__init__(message)
        self.code, self.message, self.span = code, message, span


class _Builder(Transformer):
    """One method per grammar rule (or alias); ``children`` include every token."""

    # ---- literals -------------------------------------------------------------------------
    def string(self, c):
        tok = c[0]
        return A.Literal(_span(tok), _unescape(tok))

    def integer(self, c):
        tok = c[0]
        if len(tok.value.lstrip("0")) > _MAX_INT_DIGITS:
            raise _SyntaxIssue("number_too_large", "This number is too large for PQL", _span(tok))
        return A.Literal(_span(tok), int(tok.value))

    def float_(self, c):
        value = float(c[0].value)
        if value in (float("inf"), float("-inf")):
            raise _SyntaxIssue("number_too_large", "This number is too large for PQL", _span(c[0]))
        return A.Literal(_span(c[0]), value)

    def true(self, c):
        return A.Literal(_span(c[0]), True)

    def false(self, c):
        return A.Literal(_span(c[0]), False)

    def null(self, c):
        return A.Literal(_span(c[0]), None)

    def array(self, c):
        return A.ListLit(_first_last(c), tuple(c[1] or ()))

    def timeword(self, c):
        return A.TimeWord(_span(c[0]), c[0].value)

    def period(self, c):
        rel, count, unit = c
        return A.Period(_first_last(c), rel.value, int(count.value) if count else None, unit.value)

    # ---- names and references -------------------------------------------------------------
    def name(self, c):
        return A.Name(_span(c[0]), c[0].value)

    def dollar(self, c):
        if c[0].value != "$1":
            raise _SyntaxIssue(
                "unknown_parameter", "Only $1 (the profile) is a parameter here", _span(c[0])
            )
        return A.Name(_span(c[0]), "$1")

    def context_ref(self, c):
        ref = c[0].value[2:-1].strip()
        if not ref:
            raise _SyntaxIssue("empty_context_ref", "@{...} needs a schema reference", _span(c[0]))
        return A.ContextRef(_span(c[0]), ref)

    def call(self, c):
        name, _lp, args, rp = c
        return A.Call(_span(name).to(_span(rp)), name.value, None, tuple(args or ()), _span(name))

    def args(self, c):
        return [x for x in c if isinstance(x, A.Node)]

    def lambda_(self, c):
        param, _arrow, body = c
        return A.Lambda(_span(param).to(body.span), param.value, body)

    def paren(self, c):
        return c[1]

    # ---- operators ------------------------------------------------------------------------
    def cmp_op(self, c):
        return c[0]

    def direction(self, c):
        return c[0]

    def term(self, c):
        """``prefix* atom suffix*``: build the member / method suffixes, keep the prefixes for
        the precedence pass (``not a = b`` is ``not (a = b)``)."""
        i = 0
        while not isinstance(c[i], A.Node):
            i += 1
        node = c[i]
        j, n = i + 1, len(c)
        while j < n:  # DOT NAME [LPAR args RPAR]
            name = c[j + 1]
            if j + 2 < n and not isinstance(c[j + 2], A.Node) and c[j + 2].type == "LPAR":
                args, rp = c[j + 3], c[j + 4]
                node = A.Call(
                    node.span.to(_span(rp)), name.value, node, tuple(args or ()), _span(name)
                )
                j += 5
            else:
                node = A.Member(node.span.to(_span(name)), node, name.value)
                j += 2
        return _Prefixed(c[:i], node) if i else node

    def chain(self, c):
        if len(c) == 1 and not isinstance(c[0], _Prefixed):
            return c[0]
        return _Chain(c).parse(0)

    arith = chain

    # ---- occurs ---------------------------------------------------------------------------
    def occurs_cmp(self, c):
        op, count, unit, direction, t1 = c
        digits = count.value.lstrip("0")
        if len(digits) > 9:
            raise _SyntaxIssue("number_too_large", "This number is too large for PQL", _span(count))
        return {
            "form": "cmp", "op": op.value, "count": int(count.value), "unit": unit.value,
            "direction": direction.value.lower(), "t1": t1, "end": t1.span,
        }  # fmt: skip

    def occurs_dir(self, c):
        direction, t1 = c
        return {"form": "dir", "direction": direction.value.lower(), "t1": t1, "end": t1.span}

    def occurs_on(self, c):
        t1 = c[-1]
        return {"form": "on", "t1": t1, "end": t1.span}

    def occurs_between(self, c):
        _kw, t1, _and, t2 = c
        return {"form": "between", "t1": t1, "t2": t2, "end": t2.span}

    # ---- select / exists / forall / let ---------------------------------------------------
    def source(self, c):
        return c[1]

    def select_expr(self, c):
        quant, name, source, _where, cond = c
        end = cond if cond is not None else source
        kind = quant.value.lower()
        return A.Quant(_span(quant).to(end.span), kind, name.value, source, cond)

    def binding(self, c):
        name, _eq, value = c
        return (name.value, value)

    def let_expr(self, c):
        bindings = [x for x in c[1:-2] if isinstance(x, tuple)]
        body = c[-1]
        return A.Let(
            _span(c[0]).to(body.span),
            tuple(n for n, _ in bindings),
            tuple(v for _, v in bindings),
            body,
        )


class _Prefixed:
    """A term with prefix operators (``not``, ``!``, ``-``) still to be applied."""

    __slots__ = ("node", "prefixes")

    def __init__(self, prefixes: list[Token], node: A.Node):
        self.prefixes, self.node = prefixes, node


# Binding powers (left, right), loosest first; comparisons do not chain.
_BINARY: dict[str, tuple[int, int]] = {
    "OR": (10, 11), "AND": (20, 21),
    **dict.fromkeys(("EQ", "NE", "LT", "LE", "GT", "GE", "IN", "NOTIN", "LIKE"), (40, 41)),
    "OCCURS": (40, 41),
    "PLUS": (50, 51), "MINUS": (50, 51), "STAR": (60, 61), "SLASH": (60, 61), "PERCENT": (60, 61),
}  # fmt: skip
_PREFIX = {"NOT": 30, "BANG": 30, "MINUS": 70}
_COMPARISON = 40


class _Chain:
    """Groups a flat ``term op term op ...`` list by the binding powers above (Pratt)."""

    def __init__(self, items: list[Any]):
        self.items = items
        self.pos = 0

    def parse(self, min_bp: int) -> A.Node:
        lhs = self.operand()
        items = self.items
        prev_bp = None
        while self.pos < len(items):
            op = items[self.pos]
            lbp, rbp = _BINARY[op.type]
            if lbp < min_bp:
                break
            if lbp == _COMPARISON and prev_bp == _COMPARISON:
                raise _SyntaxIssue(
                    "chained_comparison",
                    "Comparisons do not chain: write `a < b and b < c`",
                    _span(op),
                )
            self.pos += 1
            if op.type == "OCCURS":
                tail = items[self.pos]
                self.pos += 1
                fields = {k: v for k, v in tail.items() if k != "end"}
                lhs = A.Occurs(lhs.span.to(tail["end"]), ts=lhs, **fields)
            else:
                lhs = _binary(op, lhs, self.parse(rbp))
            prev_bp = lbp
        return lhs

    def operand(self) -> A.Node:
        term = self.items[self.pos]
        if isinstance(term, _Prefixed):
            op, rest = term.prefixes[0], term.prefixes[1:]
            self.items[self.pos] = _Prefixed(rest, term.node) if rest else term.node
            operand = self.parse(_PREFIX[op.type])
            span = _span(op).to(operand.span)
            if op.type == "MINUS":
                if isinstance(operand, A.Literal) and type(operand.value) in (int, float):
                    return A.Literal(span, -operand.value)
                return A.Unary(span, "neg", operand)
            return A.Unary(span, "not", operand)
        self.pos += 1
        return term


def _binary(op: Token, left: A.Node, right: A.Node) -> A.Node:
    span = left.span.to(right.span)
    kind = op.type
    if kind in ("AND", "OR"):
        name = kind.lower()
        operands: list[A.Node] = []
        for side in (left, right):
            if isinstance(side, A.BoolOp) and side.op == name:
                operands.extend(side.operands)
            else:
                operands.append(side)
        return A.BoolOp(span, name, tuple(operands))
    if kind in ("IN", "NOTIN"):
        return A.In(span, left, right, kind == "NOTIN")
    if kind == "LIKE":
        return A.Call(span, "like", left, (right,), _span(op))
    if kind in ("PLUS", "MINUS", "STAR", "SLASH", "PERCENT"):
        return A.Arith(span, op.value, left, right)
    return A.Compare(span, op.value, left, right)


def _unescape(tok: Token) -> str:
    raw = tok.value[1:-1]
    if "\\" not in raw:
        return raw

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u" and len(esc) == 5:
            return chr(int(esc[1:], 16))
        if esc in _ESCAPES:
            return _ESCAPES[esc]
        offset = tok.start_pos + 1 + m.start()
        span = A.Span(offset, offset + 2, tok.line, tok.column + 1 + m.start(), tok.line, 0)
        raise _SyntaxIssue("bad_escape", f"Unknown escape '\\{esc}' in string", span)

    return _ESCAPE_RE.sub(repl, raw)


@cache
def _lark() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=PqlLexer,
        keep_all_tokens=True,
        maybe_placeholders=True,
        transformer=_Builder(),
    )


_BUILDER = _Builder()


def parse(text: str) -> A.Node:
    """Parse PQL text into an (unresolved, untyped) AST, or raise :class:`PqlSyntaxError`.

    The hand-written reading of the grammar in :mod:`.fastparse` goes first; anything it is
    unsure of, every error included, is parsed (and reported) by lark.
    """
    try:
        return fast_parse(text, _BUILDER)
    except (Bail, _SyntaxIssue, RecursionError):
        pass
    try:
        return _lark().parse(text)
    except _SyntaxIssue as issue:
        raise PqlSyntaxError(
            issue.code, issue.message, text, issue.span.line, issue.span.column
        ) from None
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    except RecursionError:  # thousands of prefix operators: beyond any depth limit
        raise PqlLimitError(
            "expression_too_deep",
            f"The expression nests more than {MAX_DEPTH} operations deep",
            text,
            1,
            1,
        ) from None


# ---- turning lark's failures into friendly errors ------------------------------------------


def _category(tok: Token | None) -> str:
    if tok is None:
        return "start"
    if tok.type in ("LPAR", "LBRACKET"):
        return "open"
    return "operator" if tok.type in _OPERATORS else "operand"


def _signature(exc: UnexpectedInput, text: str) -> tuple[str, ...]:
    """What a failure looks like, independent of the text around it."""
    if isinstance(exc, UnexpectedCharacters):
        return ("char", text[exc.pos_in_stream : exc.pos_in_stream + 1])
    if isinstance(exc, UnexpectedToken):
        prev = _previous_token(text, exc.token)
        if exc.token.type == "$END":
            if bracket_depths(text)[0]:
                return ("end", "unclosed")
            return ("end", _category(prev))
        prev_kind = (
            prev.type if prev is not None and prev.type == exc.token.type else _category(prev)
        )
        return ("token", exc.token.type, prev_kind)
    return ("other",)


def _previous_token(text: str, token: Token) -> Token | None:
    """The token before ``token`` (lark's LALR errors do not carry it)."""
    end = len(text) if token.type == "$END" else token.start_pos
    prev = None
    try:
        for tok in tokenize(text):
            if tok.start_pos >= end:
                break
            prev = tok
    except UnexpectedCharacters:
        pass
    return prev


@cache
def _example_signatures() -> dict[tuple[str, ...], tuple[str, str]]:
    table: dict[tuple[str, ...], tuple[str, str]] = {}
    for mistake in MISTAKES:
        for example in mistake.examples:
            try:
                _lark().parse(example)
            except UnexpectedInput as exc:
                table.setdefault(_signature(exc, example), (mistake.code, mistake.message))
    return table


def _syntax_error(exc: UnexpectedInput, text: str) -> PqlSyntaxError:
    sig = _signature(exc, text)
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        line, column = position(text, len(text))
        if text and text[-1] != "\n":
            column = max(1, column - 1)
    else:
        line, column = exc.line, exc.column
    labelled = _example_signatures().get(sig)
    if labelled is not None:
        code, message = labelled
        if code == "unclosed_paren":
            line, column = position(text, bracket_depths(text)[1])
        return PqlSyntaxError(code, message, text, line, column, hint=message)
    if isinstance(exc, UnexpectedToken):
        at = len(text) if exc.token.type == "$END" else exc.token.start_pos
        found = hint(text, at, exc.token)
        if found is not None:
            line, column = position(text, found.offset)
            return PqlSyntaxError(
                found.code, found.message, text, line, column, found.width, hint=found.message
            )
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream : exc.pos_in_stream + 1]
        return PqlSyntaxError(
            "unexpected_character", f"Unexpected character {char!r}", text, line, column
        )
    assert isinstance(exc, UnexpectedToken)
    expected = sorted({_TERMINAL_NAMES.get(t, t.lower()) for t in exc.expected if t})[:8]
    if exc.token.type == "$END":
        return PqlSyntaxError(
            "unexpected_end",
            "The rule ends too early; expected " + ", ".join(expected),
            text,
            line,
            column,
        )
    return PqlSyntaxError(
        "unexpected_token",
        f"Unexpected {exc.token.value!r}; expected " + ", ".join(expected),
        text,
        line,
        column,
        width=len(exc.token.value),
    )
