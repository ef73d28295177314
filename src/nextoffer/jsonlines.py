"""JSON Lines (one object per line) for bulk bodies and files, read lazily, line by line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from nextoffer.errors import FieldError, InvalidInput


@dataclass(frozen=True, slots=True)
class Line:
    """A parsed line and its 1-based number in the file (blank lines count)."""

    number: int
    value: Any


def not_json(number: int, reason: str) -> Exception:
    """The error of a line that is not JSON in a request body: a 400 naming the line."""
    return InvalidInput(
        f"line {number}: not valid JSON: {reason}",
        code="malformed-json",
        errors=(FieldError(f"not valid JSON: {reason}", pointer="", details={"line": number}),),
        extra={"line": number},
    )


def read_lines(
    lines: Iterable[bytes | str], error: Callable[[int, str], Exception] = not_json
) -> Iterator[Line]:
    """Parse each non-blank line; the first that is not JSON raises `error(number, reason)`."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise error(number, str(exc)) from None
        yield Line(number, value)
