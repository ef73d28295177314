"""What each schema pattern means, in words: error messages say what is expected, not the regex.

A model declares a constrained string as `pattern=described(REGEX, "a media type such as
text/html")`: the regex goes to the validator (pydantic or msgspec) unchanged, and its description
is recorded here. When a value does not match, the validator names the regex; `expected()` turns
it back into words for the client. `tests/test_patterns.py` walks every schema the server
validates and fails on a pattern without a description.
"""

from __future__ import annotations

_DESCRIPTIONS: dict[str, str] = {}


def described(regex: str, description: str) -> str:
    """Record what `regex` means (a noun phrase: "a language tag such as en-US"); return `regex`."""
    known = _DESCRIPTIONS.setdefault(regex, description)
    if known != description:
        raise ValueError(f"pattern {regex!r} is already described as {known!r}")
    return regex


NOT_BLANK = described(r"\S", "a text that is not blank")
"""The pattern of names: at least one character that is not white space."""


def description(regex: str) -> str | None:
    """The words recorded for `regex`, if any."""
    return _DESCRIPTIONS.get(regex)


def expected(regex: str, fallback: str) -> str:
    """The message for a value that does not match `regex`: what is expected, or `fallback`."""
    words = _DESCRIPTIONS.get(regex)
    return f"expected {words}" if words else fallback


__all__ = ["NOT_BLANK", "described", "description", "expected"]
