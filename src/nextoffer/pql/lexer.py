"""Text -> tokens with positions, for lark's LALR parser.  The lexicon is the tables below.

One master regular expression finds the next token; a word is a keyword only where the parser
can take that keyword and would not rather take a name there -- the same rule as lark's
contextual lexer, so ``profile.from``, ``e.type`` or a field named ``day`` stay names.  It is a
custom lexer only because it is several times faster than lark's, and rule compile time is a
budget (10,000 rules in 5 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, LexerState

# Terminals other than words, in the order they are tried (longest operators first).
TERMINALS: tuple[tuple[str, str], ...] = (
    ("STRING", r'"(?:[^"\\\n]|\\.)*"'),
    ("FLOAT", r"[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+"),
    ("INT", r"[0-9]+"),
    ("WORD", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("DOLLAR", r"\$[0-9]+"),
    ("CONTEXT_REF", r"@\{[^}\n]*\}"),
    ("NE", r"!="),
    ("LE", r"<="),
    ("GE", r">="),
    ("ARROW", r"=>"),
    ("EQ", r"="),
    ("LT", r"<"),
    ("GT", r">"),
    ("BANG", r"!"),
    ("PLUS", r"\+"),
    ("MINUS", r"-"),
    ("STAR", r"\*"),
    ("SLASH", r"/"),
    ("PERCENT", r"%"),
    ("DOT", r"\."),
    ("COMMA", r","),
    ("COLON", r":"),
    ("LPAR", r"\("),
    ("RPAR", r"\)"),
    ("LBRACKET", r"\["),
    ("RBRACKET", r"\]"),
)

# Keywords matched ignoring case (``AND``, ``Select``) ...
KEYWORDS_ANY_CASE = {
    "and": "AND", "or": "OR", "not": "NOT", "notin": "NOTIN", "like": "LIKE",
    "occurs": "OCCURS", "between": "BETWEEN", "on": "ON", "before": "BEFORE",
    "after": "AFTER", "from": "FROM", "where": "WHERE", "let": "LET", "true": "TRUE",
    "false": "FALSE", "null": "NULL", "select": "QUANT", "exists": "QUANT", "forall": "QUANT",
}  # fmt: skip
# ... and keywords matched exactly.
KEYWORDS = {
    "in": "IN", "now": "TIMEWORD", "today": "TIMEWORD", "yesterday": "TIMEWORD",
    "tomorrow": "TIMEWORD", "this": "RELATIVE", "last": "RELATIVE", "next": "RELATIVE",
    **{
        unit: "UNIT"
        for base in ("millisecond", "second", "minute", "hour", "day", "week", "month", "year",
                     "decade")
        for unit in (base, base + "s")
    },
    "century": "UNIT", "centuries": "UNIT", "millennium": "UNIT", "millennia": "UNIT",
}  # fmt: skip

# Each match takes the whitespace before a token too: one regex call per token.
MASTER = re.compile(r"[ \t\r\n\f]*(?:" + "|".join(f"(?P<{n}>{p})" for n, p in TERMINALS) + ")")
TRAILING_WS = re.compile(r"[ \t\r\n\f]*\Z")
_KEYWORDS_LOWER = {**KEYWORDS_ANY_CASE, **KEYWORDS}


def keyword(word: str) -> str | None:
    kind = _KEYWORDS_LOWER.get(word)
    if kind is None and not word.islower():
        kind = KEYWORDS_ANY_CASE.get(word.lower())
    return kind


def tokenize(text: str, accepts: Any = None) -> Iterator[Token]:
    """Tokens of ``text``.  ``accepts()`` (if given) returns the terminals the parser can take
    next; without it every keyword is a keyword."""
    match = MASTER.match
    pos, line, line_start, n = 0, 1, 0, len(text)
    last: Token | None = None
    while pos < n:
        m = match(text, pos)
        if m is None:
            if TRAILING_WS.match(text, pos):
                break
            while text[pos] in " \t\r\n\f":  # point past the whitespace at the bad character
                if text[pos] == "\n":
                    line, line_start = line + 1, pos + 1
                pos += 1
            raise UnexpectedCharacters(
                text,
                pos,
                line,
                pos - line_start + 1,
                token_history=[last] if last is not None else None,
            )
        kind = m.lastgroup
        start = m.start(kind)
        if start != pos and text.find("\n", pos, start) >= 0:
            line += text.count("\n", pos, start)
            line_start = text.rfind("\n", pos, start) + 1
        end = m.end()
        value = m.group(kind)
        if kind == "WORD":
            kind = keyword(value) or "NAME"
            if kind != "NAME" and accepts is not None:
                allowed = accepts()
                if kind not in allowed and "NAME" in allowed:
                    kind = "NAME"
        column = start - line_start + 1
        last = Token(kind, value, start, line, column, line, column + (end - start), end)
        yield last
        pos = end


class PqlLexer(Lexer):
    """lark's hook for a custom lexer: tokens for the parser, keywords by parser state."""

    __future_interface__ = 2

    def __init__(self, lexer_conf: Any):
        self.lexer_conf = lexer_conf

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        text = lexer_state.text
        text = getattr(text, "text", text)
        states = parser_state.parse_conf.parse_table.states

        def accepts() -> Any:
            return states[parser_state.position]

        return tokenize(text, accepts)
