"""Conditional request headers, read once per request into what services compare etags with."""

from __future__ import annotations

from starlette.requests import Request

from nextoffer.records.etags import ETagCondition


def if_match(request: Request) -> ETagCondition | None:
    """The request's `If-Match`, or None when it sent none (the write is unconditional)."""
    header = request.headers.get("if-match")
    return None if header is None else ETagCondition.parse(header)


def if_none_match(request: Request) -> ETagCondition | None:
    """The request's `If-None-Match`, or None when it sent none."""
    header = request.headers.get("if-none-match")
    return None if header is None else ETagCondition.parse(header)
