"""RFC 3339 date-times: strict parsing in, one UTC spelling out.

Stored date-times are normalised to `YYYY-MM-DDTHH:MM:SS.mmm+00:00` (the spelling of Adobe's
Decision Management read models), so that within one field lexicographic order is time order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
"""Matched whole (`fullmatch`: `$` would let a final newline in), ASCII digits only."""


class DateTimeFormatError(ValueError):
    """The text is not an RFC 3339 date-time with an offset."""


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time (offset required) into an aware UTC datetime."""
    m = _RFC3339.fullmatch(text)
    if not m:
        raise DateTimeFormatError(
            f"{text!r} is not an RFC 3339 date-time with a time zone, e.g. 2024-05-01T00:00:00Z"
        )
    year, month, day, hour, minute, second, frac, off = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    if off in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if off[0] == "+" else -1
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            raise DateTimeFormatError(f"{text!r} has an invalid time-zone offset")
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    try:
        sec = int(second)
        leap = sec == 60  # RFC 3339 allows a leap second; fold it into the next second
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), 59 if leap else sec, micros, tz
        )
        if leap:
            value += timedelta(seconds=1)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise DateTimeFormatError(f"{text!r} is not a valid date-time: {exc}") from None


def format_utc(value: datetime, *, zulu: bool = False) -> str:
    """Format as `2024-05-01T12:00:00.000+00:00` (or with `Z` when `zulu`)."""
    value = value.astimezone(UTC)
    base = (
        f"{value.year:04d}-"
        + value.strftime("%m-%dT%H:%M:%S")
        + f".{value.microsecond // 1000:03d}"
    )
    return base + ("Z" if zulu else "+00:00")


def normalize_rfc3339(text: str) -> str:
    return format_utc(parse_rfc3339(text))


def utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=65536)
def instant_or_none(text: str) -> datetime | None:
    """Parse when `text` is a date-time, else None; cached because list filters ask often."""
    if len(text) < 20 or not text[:4].isdigit():
        return None
    try:
        return parse_rfc3339(text)
    except DateTimeFormatError:
        return None


def epoch_or_none(value: object) -> float | None:
    """Epoch seconds of a date-time string (a `startDate`, an `endDate`); None for anything else."""
    if not isinstance(value, str):
        return None
    instant = instant_or_none(value)
    return instant.timestamp() if instant is not None else None


def outside(start: float | None, end: float | None, now: float) -> bool:
    """Is `now` (epoch seconds) before `start` or after `end` (None: unbounded)?"""
    return (start is not None and now < start) or (end is not None and now > end)
