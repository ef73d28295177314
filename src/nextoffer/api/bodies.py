"""Reading JSON request bodies: media type (415), size (413) and syntax (400)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from nextoffer.errors import InvalidInput, TooLarge, UnsupportedMediaType


def is_json_media_type(content_type: str | None) -> bool:
    if content_type is None:
        return True  # curl without -H: treat as JSON rather than refuse
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge.at(f"the body is larger than {max_bytes} bytes", pointer="")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge.at(f"the body is larger than {max_bytes} bytes", pointer="")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body; never a half-parsed value."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise UnsupportedMediaType.at(
            f"send the body as application/json, not {request.headers.get('content-type')}",
            parameter="Content-Type",
        )
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        raise InvalidInput.at("the request needs a JSON body", pointer="", code="malformed-json")
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


JSONL_MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


async def read_jsonl(request: Request, max_bytes: int) -> list[tuple[int, Any]]:
    """The (line number, value) of every non-blank line of a JSON Lines body; 400 naming the
    first line that is not JSON, before anything is done with the others."""
    content_type = request.headers.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if content_type is not None and media not in (*JSONL_MEDIA_TYPES, "text/plain"):
        raise UnsupportedMediaType.at(
            f"send JSON Lines as application/x-ndjson, not {content_type}",
            parameter="Content-Type",
        )
    raw = await read_body(request, max_bytes)
    out = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput.at(
                f"line {number} is not valid JSON: {exc}",
                pointer=f"/{number}",
                code="malformed-json",
                line=number,
            ) from None
    if not out:
        raise InvalidInput.at("the body holds no JSON lines", pointer="", code="malformed-json")
    return out
