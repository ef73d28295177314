"""Constrained scalar types shared by the entity schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from nextoffer.patterns import NOT_BLANK, described
from nextoffer.timeutil import DateTimeFormatError, normalize_rfc3339


def _timestamp(value: str) -> str:
    try:
        return normalize_rfc3339(value)
    except DateTimeFormatError as exc:
        raise ValueError(str(exc)) from None


Timestamp = Annotated[
    str,
    AfterValidator(_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An RFC 3339 date-time with an offset; stored as UTC `...+00:00` with milliseconds."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=NOT_BLANK)]
Description = Annotated[str, StringConstraints(max_length=20_000)]
ObjectId = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=256,
        pattern=described(
            r"^[A-Za-z0-9._:@-]+$",
            "an object id of letters, digits and . _ : @ - such as dps:offer:1a2b3c4d5e6f",
        ),
    ),
]
"""The id of another library object (`dps:<kind>:<hex>`, or an imported `xcore:`/free-form id)."""

Uri = Annotated[
    str,
    StringConstraints(
        max_length=2048,
        pattern=described(
            r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$",
            "a URI with its scheme, such as https://ns.adobe.com/xdm/channel-types/web (a channel) "
            "or https://cdn.example.com/banner.png",
        ),
    ),
]
LanguageTag = Annotated[
    str,
    StringConstraints(
        pattern=described(
            r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$", "a language tag such as en or en-US"
        )
    ),
]
MediaType = Annotated[
    str,
    StringConstraints(
        pattern=described(
            r"^[\w.+-]+/[\w.+*-]+(\s*;.*)?$",
            "a media type such as text/html, image/png or text/plain; charset=utf-8",
        ),
        max_length=255,
    ),
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Priority = Annotated[int, Field(ge=0, le=2**31 - 1)]
PositiveInt = Annotated[int, Field(ge=1, le=2**31 - 1)]
