"""Adobe's published PQL limits, and the cheap text checks that run before parsing.

Rule text <= 15 KB UTF-8 (formula <= 8 KB), <= 25 profile attributes, <= 30 context attributes,
nesting <= 30 levels.  Nesting is the depth of open ``(`` and ``[`` outside string literals --
what an author sees when counting brackets.  ``MAX_DEPTH`` is nextoffer's own guard on the
depth of the expression tree (long unbracketed operator chains), so generated code and the
interpreter stay within Python's limits.
"""

from __future__ import annotations

import re

from .errors import PqlLimitError, position

MAX_RULE_BYTES = 15_000
MAX_FORMULA_BYTES = 8_000
MAX_PROFILE_ATTRIBUTES = 25
MAX_CONTEXT_ATTRIBUTES = 30
MAX_NESTING = 30
MAX_DEPTH = 64

# Runtime bounds, so a hostile rule cannot run for unbounded time or memory.
MAX_WORK = 1_000_000  # work units per evaluation: one per item visited, strings by size
MAX_TOP_N = 1_000  # topN / bottomN n
MAX_STRING = 65_536  # characters a string concatenation may produce
MAX_REGEX_MEM = 1 << 20  # bytes RE2 may use for one compiled pattern

# The cost of string matching (docs/pql.md, "Limits").  A work unit (MAX_WORK above) is about a
# microsecond, the cost of visiting one item; string operations charge their worst case in units.
MAX_PATTERN_CHARS = 1_000  # characters in a like / matches / regexGroup pattern
MAX_LIKE_WILDCARDS = 64  # % and _ in one like pattern
MAX_REGEX_PROGRAM = 2_000  # RE2 instructions one compiled pattern may need
MAX_MATCH_INPUT = 65_536  # characters a string method reads; a longer string never matches
MAX_DATETIME_TEXT = 64  # characters of a string read as a date-time; longer ones are not
SEARCH_RATE = 48  # units per 1,024 characters searched (worst case of str.find, ~40 ns/char)
FOLD_RATE = 8  # units per 1,024 characters case-folded (case-insensitive string methods)

BYTE_LIMITS = {"rule": MAX_RULE_BYTES, "formula": MAX_FORMULA_BYTES, "expression": MAX_RULE_BYTES}


_BRACKETS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|@\{[^}\n]*\}?|[()\[\]]')


def bracket_depths(text: str) -> tuple[int, int, int, int]:
    """Scan brackets outside strings and ``@{...}`` refs.

    Returns (depth at the end, offset of the innermost still-open bracket, the deepest depth,
    offset of the first bracket that went deeper than ``MAX_NESTING`` or -1).
    """
    depth = deepest = 0
    opened: list[int] = []
    crossed = -1
    for m in _BRACKETS.finditer(text):
        ch = m.group()
        if ch == "(" or ch == "[":
            depth += 1
            opened.append(m.start())
            if depth > deepest:
                deepest = depth
                if depth > MAX_NESTING and crossed < 0:
                    crossed = m.start()
        elif (ch == ")" or ch == "]") and depth:
            depth -= 1
            opened.pop()
    return depth, (opened[-1] if opened else len(text)), deepest, crossed


def check_text(text: str, kind: str) -> None:
    """Size and nesting limits, checked on the raw text before the parser sees it."""
    limit = BYTE_LIMITS[kind]
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > limit:
        used = 0
        offset = len(text)
        for i, ch in enumerate(text):
            used += len(ch.encode("utf-8"))
            if used > limit:
                offset = i
                break
        line, column = position(text, offset)
        noun = {"rule": "rule", "formula": "ranking formula"}.get(kind, "expression")
        raise PqlLimitError(
            f"{kind}_too_large",
            f"{'An' if noun[0] == 'e' else 'A'} {noun} is limited to {limit:,} bytes of UTF-8 "
            f"text; this one has {size:,}",
            text,
            line,
            column,
        )
    if text.count("(") + text.count("[") <= MAX_NESTING:
        return
    _, _, deepest, crossed = bracket_depths(text)
    if crossed >= 0:
        line, column = position(text, crossed)
        raise PqlLimitError(
            "nesting_too_deep",
            f"Brackets may nest at most {MAX_NESTING} levels deep; this one nests {deepest}",
            text,
            line,
            column,
        )
