"""What an `If-Match` / `If-None-Match` header names, parsed once by the HTTP layer.

Services compare a stored etag against it and never see the header's spelling; the header
text is kept only so a 412 can quote what the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ETagCondition:
    """The etags a client named (`"3"`, `3`, `W/"3"`, lists), or any etag (`*`)."""

    header: str
    """The header as sent, for messages."""
    etags: frozenset[int] = frozenset()
    any: bool = False

    def matches(self, etag: int) -> bool:
        """Does the condition name `etag`? (The one comparison both headers use.)"""
        return self.any or etag in self.etags

    @classmethod
    def parse(cls, header: str) -> ETagCondition:
        """Read a header value; a token that is no etag of ours (`"abc"`, `"03"`) matches none.

        Etags here are decimal revision counters: the same text `str(etag)` writes is the only
        spelling that names one, weak or strong alike.
        """
        etags: set[int] = set()
        for part in header.split(","):
            token = part.strip()
            if token == "*":
                return cls(header, frozenset(etags), any=True)
            token = token.removeprefix("W/").strip('"')
            if token.isascii() and token.isdigit() and str(int(token)) == token:
                etags.add(int(token))
        return cls(header, frozenset(etags))

    @classmethod
    def of(cls, etag: int) -> ETagCondition:
        """The condition a client sends after reading `etag` (`If-Match: "etag"`)."""
        return cls(f'"{etag}"', frozenset({etag}))
