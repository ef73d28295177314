"""Reading JSON request bodies: media type (415), size (413) and syntax (400)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from nextoffer.errors import InvalidInput, TooLarge, UnsupportedMediaType
from nextoffer.jsonlines import (
    JSONL_MEDIA_TYPE,
    Line,
    array_lines,
    parse_document,
    read_lines,
)


def is_json_media_type(content_type: str | None) -> bool:
    if content_type is None:
        return True  # curl without -H: treat as JSON rather than refuse
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def body_chunks(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The body as it arrives; 413 as soon as it is (or says it will be) over `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge.at(f"the body is larger than {max_bytes} bytes", pointer="")
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge.at(f"the body is larger than {max_bytes} bytes", pointer="")
        yield chunk


async def read_body(request: Request, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in body_chunks(request, max_bytes)])


async def read_json_bytes(request: Request, max_bytes: int) -> bytes:
    """The body of a request that must be JSON (`415` otherwise), unparsed: for routes that
    decode it into a typed request themselves."""
    media = request.headers.get("content-type")
    if not is_json_media_type(media):
        raise UnsupportedMediaType.at(
            f"send the body as application/json, not {media}", parameter="Content-Type"
        )
    return await read_body(request, max_bytes)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body; never a half-parsed value."""
    return parse_document(await read_json_bytes(request, max_bytes))


JSONL_MEDIA_TYPES = (JSONL_MEDIA_TYPE, "application/jsonl", "application/x-jsonlines")


def require_jsonl(request: Request, what: str) -> None:
    """415 unless the body is declared as JSON Lines."""
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in JSONL_MEDIA_TYPES:
        raise UnsupportedMediaType.at(
            f"send {what} as JSON Lines ({JSONL_MEDIA_TYPES[0]}), one per line",
            parameter="Content-Type",
        )


async def read_jsonl(request: Request, max_bytes: int, what: str) -> list[Line]:
    """Every non-blank line of a JSON Lines body, parsed; 400 naming the first line that is not
    JSON, before anything is done with the others."""
    require_jsonl(request, what)
    lines = list(read_lines((await read_body(request, max_bytes)).splitlines()))
    if not lines:
        raise InvalidInput.at(f"the body holds no {what}", pointer="", code="malformed-json")
    return lines


def is_json_array_body(request: Request) -> bool:
    """True when a bulk body is declared as plain JSON (an array) rather than JSON Lines.

    Bulk routes take both: JSON Lines streams, an array is what client generators can send.
    """
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return media == "application/json"


async def read_json_array(request: Request, max_bytes: int, what: str) -> list[Line]:
    """The items of a JSON array body as `Line`s numbered from 1, as JSON Lines number theirs;
    400 when the body is no JSON array."""
    return array_lines(await read_json(request, max_bytes), what)


async def read_items(request: Request, max_bytes: int, what: str) -> list[Line]:
    """A bulk body's items: a JSON array's, or every non-blank line of JSON Lines."""
    if is_json_array_body(request):
        items = await read_json_array(request, max_bytes, what)
        if not items:
            raise InvalidInput.at(f"the array holds no {what}", pointer="", code="invalid-body")
        return items
    return await read_jsonl(request, max_bytes, what)
