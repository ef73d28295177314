"""The string patterns of ``like``, ``matches`` and ``regexGroup``: compiled once, each with a
price in work units.

Why: RE2 never backtracks, but its work is still pattern size x text size once its DFA runs out
of memory and it falls back to the NFA.  A 14 KB ``like`` of many ``%`` against a 1 MB attribute
ran for a minute and froze the node.  So:

* compile time refuses patterns past :data:`~.limits.MAX_PATTERN_CHARS` characters,
  :data:`~.limits.MAX_LIKE_WILDCARDS` wildcards or :data:`~.limits.MAX_REGEX_PROGRAM` RE2
  instructions (:class:`PatternTooCostly`, which the checker reports as a limit error);
* a case-sensitive ``like`` of literal text and ``%`` (nearly every real one) runs without a
  regex: ``startswith``/``endswith`` for its ends and one ``str.find`` per middle segment, each
  search starting where the last one ended -- one pass over the text;
* every pattern knows :meth:`Pattern.cost`, the work units one match on ``n`` characters may
  take, which the runtime charges to the evaluation's budget *before* matching.

A work unit is about one microsecond: the cost of visiting one collection item.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from .limits import (
    MAX_LIKE_WILDCARDS,
    MAX_PATTERN_CHARS,
    MAX_REGEX_MEM,
    MAX_REGEX_PROGRAM,
    SEARCH_RATE,
)


class PatternTooCostly(ValueError):
    """A pattern past one of the compile-time limits; ``code`` names the limit."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Pattern:
    """A compiled pattern: ``full(text)``, ``search(text)`` and the work a match may cost."""

    __slots__ = ("rate",)

    rate: int  # LiteralLike: units per 1,024 characters; Regex: the RE2 program size

    def cost(self, text: str) -> int:
        raise NotImplementedError

    def full(self, text: str) -> bool:
        raise NotImplementedError


class Regex(Pattern):
    """An RE2 program.  Its worst case (the NFA) is about 2 ns per byte per instruction, so a
    match costs ``bytes x programsize / 512`` units (bytes: the text's length if it is ASCII,
    else four times that, an upper bound that needs no encoding)."""

    __slots__ = ("groups", "rx")

    def __init__(self, rx: Any):
        self.rx = rx
        self.groups: int = rx.groups
        self.rate = rx.programsize

    def cost(self, text: str) -> int:
        n = len(text) if text.isascii() else 4 * len(text)
        return (n * self.rate) >> 9

    def full(self, text: str) -> bool:
        return self.rx.fullmatch(text) is not None

    def search(self, text: str) -> Any:
        return self.rx.search(text)

    def __repr__(self) -> str:
        return f"Regex({self.rx.pattern!r})"


class LiteralLike(Pattern):
    """A case-sensitive ``like`` whose only wildcard is ``%``: literal ``parts`` between them.

    Placing each middle part at its leftmost occurrence after the previous one is a match
    whenever any placement is (parts have fixed lengths), so the matcher never backtracks.
    """

    __slots__ = ("first", "last", "middle", "whole")

    def __init__(self, parts: list[str]):
        self.whole = len(parts) == 1  # no `%`: the text must equal the pattern
        self.first, self.last = parts[0], parts[-1]
        self.middle = tuple(p for p in parts[1:-1] if p)
        # Only the middle searches scan the text; the ends are compared in place.
        self.rate = SEARCH_RATE if self.middle else 0

    def cost(self, text: str) -> int:
        return (len(text) * self.rate) >> 10

    def full(self, text: str) -> bool:
        if self.whole:
            return text == self.first
        first, last = self.first, self.last
        end = len(text) - len(last)
        if end < len(first) or not text.startswith(first) or not text.endswith(last):
            return False
        pos = len(first)
        for part in self.middle:
            found = text.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
        return True

    def __repr__(self) -> str:
        return f"LiteralLike({'%'.join((self.first, *self.middle, self.last))!r})"


def like_parts(pattern: str) -> tuple[list[list[str]], int]:
    """Split a like pattern at its unescaped ``%``: each part a list of single characters,
    ``_`` standing for itself only when unescaped (escaped ones come back as ``"\\_"``); and
    the number of wildcards."""
    parts: list[list[str]] = [[]]
    wildcards = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            parts[-1].append("\\_" if nxt == "_" else nxt)
            i += 2
            continue
        if ch == "%":
            wildcards += 1
            parts.append([])
        else:
            wildcards += ch == "_"
            parts[-1].append(ch)
        i += 1
    return parts, wildcards


def like_to_regex(pattern: str) -> str:
    """SQL ``like`` as RE2 syntax: ``%`` any run, ``_`` one character, backslash escapes the
    next one."""
    parts, _ = like_parts(pattern)
    return ".*".join(
        "".join("." if c == "_" else re2.escape("_" if c == "\\_" else c) for c in part)
        for part in parts
    )


@lru_cache(maxsize=4096)
def compile_regex(pattern: str, case_sensitive: bool = True) -> Any:
    """Compile with RE2 (linear time, bounded memory); raises ``re2.error`` on a bad pattern."""
    options = re2.Options()
    options.max_mem = MAX_REGEX_MEM
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.dot_nl = True
    return re2.compile(pattern, options)


def _check_length(pattern: str, what: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternTooCostly(
            "pattern_too_long",
            f"A {what} pattern is limited to {MAX_PATTERN_CHARS:,} characters; "
            f"this one has {len(pattern):,}",
        )


def _program(pattern: str, case_sensitive: bool, what: str) -> Regex:
    rx = compile_regex(pattern, case_sensitive)
    if rx.programsize > MAX_REGEX_PROGRAM:
        raise PatternTooCostly(
            "pattern_too_complex",
            f"A {what} pattern may compile to at most {MAX_REGEX_PROGRAM:,} RE2 instructions; "
            f"this one needs {rx.programsize:,} (simplify it, e.g. fewer counted repetitions "
            "or Unicode classes)",
        )
    return Regex(rx)


@lru_cache(maxsize=4096)
def like(pattern: str, case_sensitive: bool = True) -> Pattern:
    """A ``like`` pattern, compiled; raises :class:`PatternTooCostly` past the limits."""
    _check_length(pattern, "like")
    parts, wildcards = like_parts(pattern)
    if wildcards > MAX_LIKE_WILDCARDS:
        raise PatternTooCostly(
            "too_many_wildcards",
            f"A like pattern may have at most {MAX_LIKE_WILDCARDS} wildcards (% and _); "
            f"this one has {wildcards:,}",
        )
    if case_sensitive and not any("_" in part for part in parts):
        return LiteralLike(["".join("_" if c == "\\_" else c for c in p) for p in parts])
    return _program(like_to_regex(pattern), case_sensitive, "like")


@lru_cache(maxsize=4096)
def regex(pattern: str, case_sensitive: bool = True) -> Regex:
    """A ``matches``/``regexGroup`` pattern, compiled; raises ``re2.error`` on a bad pattern
    and :class:`PatternTooCostly` past the limits."""
    _check_length(pattern, "regular expression")
    return _program(pattern, case_sensitive, "regular expression")


__all__ = [
    "LiteralLike",
    "Pattern",
    "PatternTooCostly",
    "Regex",
    "compile_regex",
    "like",
    "like_to_regex",
    "regex",
]
