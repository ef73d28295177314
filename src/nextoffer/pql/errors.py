"""One error family, split by phase: syntax (parser), type (checker), limit (Adobe guardrails).

Each error knows its stable ``code``, a human ``message``, a 1-based ``line``/``column``, where
the offending text ends (``end_line``/``end_column``, the column just after it), an ``excerpt``
(the offending source line with a caret under the column), and for a recognised mistake a
``hint`` (how to write it instead); ``str()`` shows all of it -- so an author can act on it
without reading nextoffer's source, and an editor can underline the very text.
"""

from __future__ import annotations


def excerpt(text: str, line: int, column: int, width: int = 1) -> str:
    """The source line at ``line`` and a caret line under ``column`` (both 1-based)."""
    lines = text.splitlines() or [""]
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    # Keep very long lines readable: show a window around the column.
    start = 0
    if len(src) > 100:
        start = max(0, column - 50)
        src = ("..." if start else "") + src[start : start + 100]
        column = column - start + (3 if start else 0)
    caret = " " * max(column - 1, 0) + "^" * max(1, min(width, len(src) - column + 1))
    return f"{src}\n{caret}"


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class PqlError(Exception):
    """Base of every PQL compile error."""

    phase = "pql"

    def __init__(
        self,
        code: str,
        message: str,
        text: str,
        line: int,
        column: int,
        width: int = 1,
        *,
        hint: str | None = None,
    ):
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.end_line, self.end_column = line, column + _width_on_line(text, line, column, width)
        self.hint = hint
        self.excerpt = excerpt(text, line, column, width)
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.message} [{self.phase} error {self.code}] "
            f"at line {self.line}, column {self.column}:\n{self.excerpt}"
        )

    def __reduce__(self):  # exceptions with custom __init__ must say how to pickle
        return (
            _rebuild,
            (type(self), self.code, self.message, self.line, self.column, self.excerpt),
            {"end_line": self.end_line, "end_column": self.end_column, "hint": self.hint},
        )


def _width_on_line(text: str, line: int, column: int, width: int) -> int:
    """``width`` characters, at least one, never past the end of the line (an error at the
    end of the text still marks one column)."""
    lines = text.splitlines() or [""]
    length = len(lines[line - 1]) if 0 < line <= len(lines) else 0
    return max(1, min(width, length - column + 1))


def _rebuild(cls, code, message, line, column, excerpt_text):
    err = cls.__new__(cls)
    err.code, err.message, err.line, err.column, err.excerpt = (
        code,
        message,
        line,
        column,
        excerpt_text,
    )
    err.end_line, err.end_column, err.hint = line, column + 1, None
    Exception.__init__(err, str(err))
    return err


class PqlSyntaxError(PqlError):
    """The text is not PQL: raised by the parser."""

    phase = "syntax"


class PqlTypeError(PqlError):
    """The text is PQL but cannot mean anything: wrong types, unknown names, bad patterns."""

    phase = "type"


class PqlLimitError(PqlError):
    """The text crosses one of Adobe's rule/formula limits (size, attributes, nesting)."""

    phase = "limit"
