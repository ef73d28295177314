"""Check a rule or formula without keeping it: what an editor shows while its author types.

Compiling answers "does it work" by raising; an editor wants the answer as data -- either the
fields the text reads, or the error with where it starts and ends and how to fix it. The text
is compiled afresh, not through :mod:`.cache`: every keystroke is a new text, and caching them
would push the library's real rules out of the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .compiled import compile_text
from .errors import PqlError
from .reads import Reads


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One compile error: 1-based positions, the end column just after the offending text."""

    code: str
    phase: str
    """``syntax``, ``type`` or ``limit``."""
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    excerpt: str
    hint: str | None = None

    @classmethod
    def of(cls, exc: PqlError) -> Diagnostic:
        return cls(
            exc.code,
            exc.phase,
            exc.message,
            exc.line,
            exc.column,
            exc.end_line,
            exc.end_column,
            exc.excerpt,
            exc.hint,
        )


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A text that compiles (``reads`` says what it reads) or does not (``errors``)."""

    reads: Reads | None
    errors: tuple[Diagnostic, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


def diagnose(text: str, kind: str, aliases: Iterable[str] = ()) -> Diagnosis:
    """Compile ``text`` as a ``rule``, ``formula`` or ``expression`` and report, never raise,
    what is wrong with it (the first error: each phase stops at its first)."""
    try:
        compiled = compile_text(text, kind, aliases)
    except PqlError as exc:
        return Diagnosis(None, (Diagnostic.of(exc),))
    return Diagnosis(compiled.reads)


__all__ = ["Diagnosis", "Diagnostic", "diagnose"]
