"""uvicorn's httptools protocol with a deadline and a size cap on each request's head.

uvicorn bounds neither: its keep-alive timer stops at the first byte of a request, and httptools
buffers a header of any size, so 300 connections trickling a header line every 5 s stayed open
for good (issue 15). `nextoffer serve` runs this protocol; behind another server, bound the head
there too (nginx: `client_header_timeout`, `large_client_header_buffers`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_VARIABLE = "NEXTOFFER_HEADER_TIMEOUT_SECONDS"
DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a request's line and headers (from its first byte, or from
connecting): nginx's `client_header_timeout` is 60 s, Apache's `RequestReadTimeout` 20 s."""
MAX_HEAD_BYTES = 64 * 1024
"""The most bytes of request line and headers read before the head must be complete;
`api.middleware.HeaderLimits` answers smaller excesses with a 431 naming the header."""
LINGER_SECONDS = 1.0
"""After refusing, what the client still sends is read and dropped this long before closing, so
the refusal reaches it (closing with unread data would reset the connection first)."""


def header_timeout(env: Mapping[str, str] = os.environ) -> float:
    """`NEXTOFFER_HEADER_TIMEOUT_SECONDS`, else the default; ValueError unless a number > 0."""
    raw = env.get(HEADER_TIMEOUT_VARIABLE, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_HEADER_TIMEOUT
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{HEADER_TIMEOUT_VARIABLE} must be a number of seconds > 0, not {raw!r}")
    return value


def _problem(status: int, reason: str, code: str, detail: str) -> bytes:
    body = orjson.dumps(
        {
            "type": f"https://nextoffer.dev/problems/{code}",
            "title": reason,
            "status": status,
            "detail": detail,
            "code": code,
            "errors": [],
        }
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHeadProtocol(HttpToolsProtocol):
    """Closes a connection whose request head takes longer than the header timeout (408) or
    grows past MAX_HEAD_BYTES (431); everything else is uvicorn's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = header_timeout()
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head()

    def on_headers_complete(self) -> None:
        self._end_head()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: dropped
        if self._head_timer is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_timer is not None and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                "header-too-large",
                f"the request line and headers are longer than {MAX_HEAD_BYTES} bytes",
            )

    def _start_head(self) -> None:
        if self._head_timer is None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _end_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._head_bytes == 0 and self.cycle is None:
            self.transport.close()  # connected and said nothing: no answer is owed
            return
        self._refuse(
            408,
            "Request Timeout",
            "header-timeout",
            f"the request line and headers took longer than {self.head_timeout:g} s",
        )

    def _refuse(self, status: int, reason: str, code: str, detail: str) -> None:
        self._end_head()
        if not self.transport.is_closing() and not self._refused:
            self._refused = True
            self.transport.write(_problem(status, reason, code, detail))
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
