"""Where a server's buffered decision events get written: in its own thread, or in a child process.

Writing an event costs tens of microseconds of CPU on SQLite (a row and five index entries, plus
one per offer), most of it while the writing thread holds the GIL. In a server's thread, each
flush then stalls the event loop for milliseconds: at 1,400 decisions/s nearly every event-loop
stall over 5 ms coincided with a flush (benchmarks/README.md). The `process` writer does the same
work in a child process at a lower CPU priority (nice 10): the kernel runs the server first
whenever a request arrives, and the server's thread only sends rows down a pipe and waits.

The child lives exactly as long as its pipe: it ignores SIGINT and SIGTERM (the server shuts
down first and hands it the last events) and exits when the pipe closes, also when the server
dies. A child that fails or hangs is killed and a new one started by the next write; rows are
inserted with ON CONFLICT DO NOTHING, so writing a batch again is harmless.

Protocol (private to this module): frames of a 4-byte big-endian length and a JSON body on the
child's stdin — first the settings, then lists of `EventRow`s; one reply line per batch on its
stdout, `ok <rows refused>` or `error <message>`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

import nextoffer
from nextoffer.config import DECISION_EVENT_WRITERS, choice
from nextoffer.store.database import Database
from nextoffer.store.decision_event_tables import EventRow, write_rows
from nextoffer.store.sandbox_ids import SandboxIds

log = logging.getLogger("nextoffer.decision_events")

NICE = 10
"""How much lower the writer process's CPU priority is than the server's."""


class WriterError(RuntimeError):
    """A batch was not written; it stays buffered and is tried again."""


class EventWriter(Protocol):
    def write(self, rows: Sequence[EventRow]) -> int:
        """Write the rows, or raise (nothing of a failed batch needs undoing); how many rows
        the database refused (`write_rows`)."""

    def close(self) -> None:
        """Release what the writer holds; a later `write` may start it again."""


class ThreadWriter:
    """Writes in the calling thread (the log's background thread), as before the child
    process: one process less, for tools and tests that decide little."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.sandboxes = SandboxIds(db)

    def write(self, rows: Sequence[EventRow]) -> int:
        return write_rows(self.db, self.sandboxes, rows)

    def close(self) -> None:
        pass


class ProcessWriter:
    """Writes through a child process running this module's `main`."""

    def __init__(self, db: Database, *, timeout: float = 120.0, nice: int = NICE) -> None:
        self.url = db.url.render_as_string(hide_password=False)
        self.timeout = timeout
        self.nice = nice
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def write(self, rows: Sequence[EventRow]) -> int:
        child = self._running()
        assert child.stdin is not None and child.stdout is not None
        try:
            _send(child.stdin, rows)
            reply = _reply_line(child.stdout, self.timeout)
        except (OSError, TimeoutError, EOFError) as exc:
            self._stop(kill=True)
            raise WriterError(f"the decision-event writer process failed: {exc}") from exc
        status, _, detail = reply.partition(" ")
        if status != "ok":
            raise WriterError(detail or "the writer process gave no reason")
        return int(detail)

    def close(self) -> None:
        self._stop(kill=False)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        source = str(Path(nextoffer.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            raise WriterError(f"the decision-event writer process did not start: {exc}") from exc
        assert child.stdin is not None
        try:
            _send(child.stdin, {"database_url": self.url, "nice": self.nice})
        except OSError as exc:
            child.kill()
            child.wait()
            raise WriterError(f"the decision-event writer process did not start: {exc}") from exc
        self._child = child
        return child

    def _stop(self, *, kill: bool) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if not kill:
            assert child.stdin is not None
            try:
                child.stdin.close()  # the child writes nothing more and exits
                child.wait(self.timeout)
            except (OSError, subprocess.TimeoutExpired):
                kill = True
        if kill:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def open_writer(db: Database, kind: str) -> EventWriter:
    """The writer named by `NEXTOFFER_DECISION_EVENT_WRITER` (a thread off POSIX, where the
    child's pipe cannot be waited on with `select`)."""
    kind = choice("NEXTOFFER_DECISION_EVENT_WRITER", kind, DECISION_EVENT_WRITERS)
    if kind == "thread" or os.name != "posix":
        return ThreadWriter(db)
    return ProcessWriter(db)


# -- the wire -----------------------------------------------------------------------------------


def _send(pipe: IO[bytes], value: Any) -> None:
    body = orjson.dumps(value)
    pipe.write(len(body).to_bytes(4, "big") + body)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> Any:
    """The next frame's value, or None at the end of the pipe."""
    head = pipe.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    body = pipe.read(size)
    if len(body) < size:
        return None
    return orjson.loads(body)


def _reply_line(pipe: IO[bytes], timeout: float) -> str:
    """One reply line, waiting at most `timeout` seconds."""
    fd, line, deadline = pipe.fileno(), b"", time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no reply within {timeout:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise EOFError("the writer process exited")
        line += chunk
    return line.decode("utf-8", "replace").strip()


# -- the child ----------------------------------------------------------------------------------


def main() -> None:
    """The writer process: settings, then batches until the pipe closes."""
    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the reply pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(format="nextoffer decision-event writer: %(levelname)s %(message)s")
    source = sys.stdin.buffer
    settings = _receive(source)
    if settings is None:
        return
    with contextlib.suppress(AttributeError, OSError):  # not POSIX, or not allowed: run as is
        os.nice(int(settings.get("nice", NICE)))
    db = Database(settings["database_url"])
    sandboxes = SandboxIds(db)
    try:
        while (rows := _receive(source)) is not None:
            try:
                refused = write_rows(db, sandboxes, rows)
            except Exception as exc:  # the server keeps the batch and sends it again
                log.exception("writing %d decision events failed", len(rows))
                message = " ".join(f"{type(exc).__name__}: {exc}".split())
                reply.write(f"error {message}\n".encode())
            else:
                reply.write(f"ok {refused}\n".encode())
    finally:
        db.dispose()
