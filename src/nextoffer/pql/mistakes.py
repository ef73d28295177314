"""Friendly messages for common PQL mistakes, as a table of labelled examples.

Modelled on lark's ``match_examples``: each entry lists texts that show the mistake.  When a
parse fails, the failure's *signature* (what was unexpected, and what came just before) is
compared with the signatures of the examples; the first entry with a matching example lends its
code and message.  The tests parse every example here and check each gets its own entry, so the
table cannot drift from the parser.
"""

from __future__ import annotations

from typing import NamedTuple


class Mistake(NamedTuple):
    code: str
    message: str
    examples: tuple[str, ...]


MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        "double_equals",
        "PQL compares with a single '=': write `a = b`, not `a == b`",
        ("age == 18", 'person.name.firstName == "Joe"', "if(a == 1, 2, 3)"),
    ),
    Mistake(
        "single_quotes",
        "Strings take double quotes in PQL: write \"text\", not 'text'",
        ("city = 'Paris'", "name.equals('Joe', false)", "'gold' in tiers"),
    ),
    Mistake(
        "and_symbol",
        "Write `and` to combine conditions; PQL has no `&&`",
        ("a = 1 && b = 2", "(x && y)"),
    ),
    Mistake(
        "or_symbol",
        "Write `or` to combine alternatives; PQL has no `||`",
        ("a = 1 || b = 2", "(x || y)"),
    ),
    Mistake(
        "unclosed_string",
        "This string is never closed: add the closing double quote on the same line",
        ('city = "Paris', 'name.equals("Jo, false)', '["a", "b]'),
    ),
    Mistake(
        "unclosed_paren",
        "A '(' or '[' is opened here but never closed",
        ("(age > 18", "if(a, 1, 2", "tier in [1, 2", "not(x.isNull()"),
    ),
    Mistake(
        "trailing_operator",
        "The expression ends with an operator that has nothing on its right",
        ("age > 18 and", "a = 1 or", "priority +", "age >", "x =", "not", "!", "(a and)", "f(a +)"),
    ),
)
