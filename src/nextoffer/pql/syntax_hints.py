"""Syntax mistakes recognised from the tokens around a failure, where an example signature cannot.

:mod:`.mistakes` labels a failure by what was unexpected and what came just before it.  Two
common mistakes fail further right than where they are, so they need a look at more tokens:

- ``a and and b``: the contextual lexer reads the second ``and`` as a *name* (``profile.and`` is
  a valid path), so lark fails only at ``b`` and lists ``'and'`` among what it expected.  The
  mistake is the second operator; the hint points there.
- ``(x) => x.amount``: JavaScript's parenthesised parameter.  lark fails at ``=>``; the hint
  points at ``(x)`` and says to write ``x =>``.
"""

from __future__ import annotations

from contextlib import suppress
from typing import NamedTuple

from lark import Token
from lark.exceptions import UnexpectedCharacters

from .lexer import tokenize

_BINARY = frozenset(
    {"AND", "OR", "EQ", "NE", "LT", "LE", "GT", "GE", "IN", "NOTIN", "LIKE", "PLUS", "STAR",
     "SLASH", "PERCENT"}
)  # fmt: skip
"""Operators that need an operand on their left.  `-`, `not` and `!` are left out: they may also
start an operand (`a and not b`, `a - -1`)."""
_FOLLOWS_AN_OPERAND = _BINARY | {"OCCURS"}
"""`occurs` may be followed by a comparison (`ts occurs <= 3 days before now`), so it only ever
comes second in a doubled pair."""
_NAME_AFTER = frozenset(("DOT", "LPAR"))
"""A keyword followed by these is a name (`and.x`, `like(...)`), not a doubled operator."""


class Hint(NamedTuple):
    code: str
    message: str
    offset: int
    """0-based offset of the mistake in the text."""
    width: int


EXAMPLES: dict[str, tuple[str, ...]] = {
    "doubled_operator": (
        "a = 1 and and b = 2",
        "a = 1 and or b = 2",
        "a and and x",
        "age > > 18",
        "a + * 2 > 1",
        "x in in [1, 2]",
    ),
    "lambda_parentheses": (
        "orders.exists((x) => x.amount > 3)",
        "orders.sum((o) => o.amount) > 10",
    ),
}
"""Texts that show each mistake: the tests check every one gets its code."""


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    with suppress(UnexpectedCharacters):  # the tokens before a bad character are enough
        out.extend(tokenize(text))
    return out


def hint(text: str, failed_at: int, unexpected: Token | None) -> Hint | None:
    """A hint for a parse that failed at offset ``failed_at`` (on ``unexpected``), if any."""
    tokens = _tokens(text)
    if unexpected is not None and unexpected.type == "ARROW":
        found = _lambda_parentheses(tokens, unexpected.start_pos)
        if found is not None:
            return found
    return _doubled_operator(tokens, failed_at)


def _doubled_operator(tokens: list[Token], failed_at: int) -> Hint | None:
    for i in range(1, len(tokens)):
        first, second = tokens[i - 1], tokens[i]
        if second.start_pos > failed_at:
            return None
        if first.type not in _BINARY or second.type not in _FOLLOWS_AN_OPERAND:
            continue
        if i >= 2 and tokens[i - 2].type == "DOT":  # `x.and and y`: the first is a member name
            continue
        if i + 1 < len(tokens) and tokens[i + 1].type in _NAME_AFTER:
            continue
        message = (
            f"`{second.value}` follows `{first.value}` with nothing between them: "
            "an operand is missing here, or one operator is too many"
        )
        return Hint("doubled_operator", message, second.start_pos, len(second.value))
    return None


def _lambda_parentheses(tokens: list[Token], arrow_at: int) -> Hint | None:
    before = [t for t in tokens if t.start_pos < arrow_at][-3:]
    if [t.type for t in before] != ["LPAR", "NAME", "RPAR"]:
        return None
    lpar, name, rpar = before
    message = (
        f"Write `{name.value} => ...`: a lambda's parameter is a plain name, "
        f"without parentheses (not `({name.value}) =>`)"
    )
    return Hint("lambda_parentheses", message, lpar.start_pos, rpar.end_pos - lpar.start_pos)


__all__ = ["EXAMPLES", "Hint", "hint"]
