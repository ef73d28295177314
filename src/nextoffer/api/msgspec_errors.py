"""msgspec validation errors as field errors with JSON pointers."""

from __future__ import annotations

import ast
import re

import msgspec

from nextoffer.errors import FieldError, InvalidInput
from nextoffer.jsonlines import check_depth
from nextoffer.library.references import escape_pointer_token
from nextoffer.patterns import expected

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_REGEX = re.compile(r"Expected `str` matching regex ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
"""msgspec names a pattern by its `repr`; `nextoffer.patterns` has the words for it."""


def pointer_of(path: str) -> str:
    parts = []
    for name, index, quoted in _STEP.findall(path):
        parts.append(name or index or quoted)
    return "".join("/" + escape_pointer_token(p) for p in parts)


def to_invalid_input(exc: msgspec.ValidationError, what: str) -> InvalidInput:
    m = _AT.match(str(exc))
    message = m.group("message") if m else str(exc)
    pointer = pointer_of(m.group("path") or "") if m else ""
    if regex := _REGEX.fullmatch(message):
        message = expected(ast.literal_eval(regex.group(1)), message)
    missing = _MISSING.search(message)
    if missing:
        pointer += "/" + escape_pointer_token(missing.group(1))
    error = InvalidInput.at(f"{what}: {message}", pointer=pointer, code="invalid-body")
    assert isinstance(error, InvalidInput)
    return error


def decode(body: bytes, type_: type, what: str) -> object:
    """Decode and validate JSON in one pass; any problem is a 400 naming the field. The depth is
    bounded first: msgspec recurses, and a 10,000-deep body would exhaust the stack."""
    check_depth(body)
    if b"\\u0000" in body:
        raise InvalidInput.at(
            "strings may not contain the NUL character (\\u0000)", pointer="", code="malformed-json"
        )
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise to_invalid_input(exc, what) from None
    except msgspec.DecodeError as exc:
        raise InvalidInput.at(
            f"the body is not valid JSON: {exc}", pointer="", code="malformed-json"
        ) from None


__all__ = ["FieldError", "decode", "pointer_of", "to_invalid_input"]
