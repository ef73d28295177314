"""A real server (uvicorn with `BoundedHeadProtocol`, as `nextoffer serve` runs it) closes
connections whose request head trickles in or grows without end, and serves everyone else."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from nextoffer.api.http_protocol import HEADER_TIMEOUT_VARIABLE, MAX_HEAD_BYTES, BoundedHeadProtocol

TIMEOUT = 1.0
"""The header timeout of the server under test; trickling goes on for many times longer."""


@pytest.fixture
def server(app, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    monkeypatch.setenv(HEADER_TIMEOUT_VARIABLE, str(TIMEOUT))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=BoundedHeadProtocol,
        lifespan="off",
        log_level="error",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield "127.0.0.1", port
    srv.should_exit = True
    thread.join(10)


def health(address: tuple[str, int]) -> bytes:
    with socket.create_connection(address, timeout=10) as c:
        c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return read_all(c)


def read_all(c: socket.socket) -> bytes:
    out = b""
    while chunk := c.recv(65536):
        out += chunk
    return out


def test_a_trickled_head_is_answered_408_and_closed(server: tuple[str, int]) -> None:
    c = socket.create_connection(server, timeout=10)
    c.settimeout(0.2)
    c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\n")
    answer, sent = b"", 0
    while sent < 60:  # 12 s of trickling at most: many times the timeout
        sent += 1
        try:
            c.sendall(b"X-Slow: 1\r\n")
            chunk = c.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset after the answer
            break
        if not chunk:
            break
        answer += chunk
    c.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"application/problem+json" in answer and b'"header-timeout"' in answer
    assert sent < 60  # closed long before the client gave up
    assert health(server).startswith(b"HTTP/1.1 200")  # and everyone else was served


def test_a_head_past_the_cap_is_answered_431_and_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=10) as c:
        c.sendall(b"GET /v1/health HTTP/1.1\r\nHost: t\r\nX-Big: ")
        try:
            for _ in range(2 * MAX_HEAD_BYTES // 4096):
                c.sendall(b"a" * 4096)
        except OSError:
            pass  # the server stopped reading
        answer = read_all(c)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b'"header-too-large"' in answer


def test_a_silent_connection_is_closed_and_keep_alive_still_works(
    server: tuple[str, int],
) -> None:
    with socket.create_connection(server, timeout=10) as silent:
        assert silent.recv(10) == b""  # closed by the server after the header timeout
    with socket.create_connection(server, timeout=10) as c:
        request = b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"
        for _ in range(3):
            c.sendall(request)
            reply = _response(c)
            assert reply.startswith(b"HTTP/1.1 200"), reply


def _response(conn: socket.socket) -> bytes:
    """One whole response (head and `content-length` body): the server may send the head and
    the body in separate segments, so one `recv` can end between them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_client_leaving_mid_body_is_no_server_error(
    server: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A load generator stopping (or a closed tab) leaves bodies unfinished: before, each one
    logged "unexpected error" with two tracebacks, as a 500."""
    with caplog.at_level(logging.INFO):
        for path in ("/data/core/ods/decisions", "/v1/profiles/bulk"):
            with socket.create_connection(server) as c:
                c.sendall(
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Authorization: Bearer acme-token\r\nx-api-key: acme-key\r\n"
                    "x-gw-ims-org-id: leaving@AdobeOrg\r\nx-sandbox-name: prod\r\n"
                    'Content-Length: 100000\r\n\r\n{"events": ['.encode()
                )
                time.sleep(0.2)  # the route is reading the body when the client goes
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and b"200 OK" not in health(server):
            time.sleep(0.05)
        time.sleep(0.3)
    errors = [  # the server's own: another test's background event writer may log meanwhile
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("uvicorn", "nextoffer.api"))
    ]
    assert errors == [], [r.getMessage() for r in errors]
    assert b"200 OK" in health(server)
