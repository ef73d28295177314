"""JSON text from outside: its nesting depth bounded, and JSON Lines (one object per line) for
bulk bodies and files, read lazily, line by line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

from nextoffer.errors import FieldError, InvalidInput

MAX_DEPTH = 64
"""How deeply arrays and objects may nest in any JSON nextoffer reads from a client: request
bodies of every API (the Decisioning API, the Edge, profiles, events, the library) and each line
of JSON Lines. Real XDM nests about ten deep; a bound keeps every decoder, validator and encoder
(orjson writes at most 254 levels) far from its recursion limit."""

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


def nesting_depth(text: bytes | str, bound: int | None = None) -> int:
    """How deeply arrays and objects nest in `text`, in time linear in its length (brackets in
    strings do not count). Meant to run before decoding, so a 10,000-deep body never reaches a
    recursive decoder; on text that is not JSON the answer is meaningless but finite. With a
    `bound`, any answer up to it may stand for "at most `bound`" (the common case is counted
    without walking the brackets)."""
    raw = text.encode() if isinstance(text, str) else text
    if bound is not None and raw.count(b"[") + raw.count(b"{") <= bound:
        # every opening bracket, in strings too, bounds the depth: the usual body stops here
        return bound
    # escapes pair left to right as a decoder reads them; without them every quote opens or
    # closes a string, and the brackets between an odd and the next quote are text
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    opened = brackets.count(b"[") + brackets.count(b"{")
    if opened <= 1 or (bound is not None and opened <= bound):
        return opened
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def too_deep(depth: int, line: int | None = None) -> InvalidInput:
    """The 400 of JSON nested deeper than MAX_DEPTH (on `line` of JSON Lines)."""
    where = f"line {line}: " if line is not None else ""
    message = (
        f"{where}arrays and objects nest {depth} levels deep; "
        f"nextoffer reads JSON nested at most {MAX_DEPTH} levels deep"
    )
    extra = {"maxDepth": MAX_DEPTH} if line is None else {"maxDepth": MAX_DEPTH, "line": line}
    details = {"line": line} if line is not None else None
    return InvalidInput(
        message,
        code="too-deep",
        errors=(FieldError(message, pointer="", details=details),),
        extra=extra,
    )


def check_depth(text: bytes | str, line: int | None = None) -> None:
    """400 `too-deep` when `text` nests deeper than MAX_DEPTH."""
    depth = nesting_depth(text, MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise too_deep(depth, line)


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
    """Parse each non-blank line; the first that is not JSON, nests deeper than MAX_DEPTH or
    holds a NUL character (no database keeps one in text) raises `error(number, reason)`
    (`too_deep` with the default `error`)."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        depth = nesting_depth(text, MAX_DEPTH)
        if depth > MAX_DEPTH:
            if error is not_json:
                raise too_deep(depth, number)
            raise error(number, f"nested {depth} levels deep, more than {MAX_DEPTH}")
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise error(number, str(exc)) from None
        if (b"\\u0000" if isinstance(text, bytes) else "\\u0000") in text:
            raise error(number, "strings may not contain the NUL character (\\u0000)")
        yield Line(number, value)


def parse_document(raw: bytes) -> Any:
    """One JSON document from a client: 400 `malformed-json` when it is empty, nests too
    deeply, is not JSON or holds a NUL character; never a half-parsed value."""
    if not raw.strip():
        raise InvalidInput.at("the request needs a JSON body", pointer="", code="malformed-json")
    check_depth(raw)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput.at(
            f"the body is not valid JSON: {exc}", pointer="", code="malformed-json"
        ) from None
    if b"\\u0000" in raw:
        raise InvalidInput.at(
            "strings may not contain the NUL character (\\u0000)", pointer="", code="malformed-json"
        )
    return value


JSONL_MEDIA_TYPE = "application/x-ndjson"


def array_lines(value: Any, what: str) -> list[Line]:
    """The items of a parsed JSON array as `Line`s numbered from 1, as JSON Lines number theirs;
    400 when `value` is no array."""
    if not isinstance(value, list):
        raise InvalidInput.at(
            f"send the {what} as a JSON array, or as JSON Lines ({JSONL_MEDIA_TYPE})",
            pointer="",
            code="invalid-body",
        )
    return [Line(number, item) for number, item in enumerate(value, start=1)]
