"""JSON Lines (one object per line) for bulk bodies and files, read lazily, line by line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from nextoffer.errors import FieldError, InvalidInput


@dataclass(frozen=True, slots=True)
class Line:
    """A parsed line and its 1-based number in the file (blank lines count)."""

    number: int
    value: Any


def read_lines(lines: Iterable[bytes | str]) -> Iterator[Line]:
    """Parse each non-blank line; the first that is not JSON is a 400 naming its number."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"line {number}: not valid JSON: {exc}",
                code="malformed-json",
                errors=(
                    FieldError(f"not valid JSON: {exc}", pointer="", details={"line": number}),
                ),
                extra={"line": number},
            ) from None
        yield Line(number, value)
