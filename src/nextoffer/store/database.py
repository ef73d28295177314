"""The database handle: engine set-up per dialect, write transactions, and migrations.

SQLite (the default) runs in WAL mode with `synchronous=NORMAL`, a busy timeout, and writes in
`BEGIN IMMEDIATE` transactions, so concurrent writers queue instead of failing half-way; writers
of one file queue on a `WriterLock` first. Readers never wait for a writer (WAL).
PostgreSQL writers serialise per sandbox on the sandbox row (see `library_repo.bump_revision`).

Waiting is bounded (`write_wait`, `NEXTOFFER_WRITE_WAIT_SECONDS`): a writer that cannot have the
writer lock, SQLite's write lock or a PostgreSQL row lock in time gets `Busy` (503) and its
transaction is rolled back, instead of holding a worker, and its client, for as long as the
other write lasts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: threads queue, processes rely on SQLite
    fcntl = None  # type: ignore[assignment]

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from nextoffer.errors import Busy

_WRITE = "nextoffer_write"
_PG_LOCK_NOT_AVAILABLE = "55P03"
"""SQLSTATE of a PostgreSQL lock wait cut by `lock_timeout`."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


CONNECT_TIMEOUT = 5
"""Seconds to wait for a PostgreSQL connection (`connect_timeout` in the URL overrides it)."""


class Database:
    """One engine per process; `read()` and `write()` hand out connections in a transaction."""

    def __init__(self, url: str, *, echo: bool = False, write_wait: float | None = None) -> None:
        """`write_wait`: the longest a writer waits for the database (seconds; None: no bound,
        as command-line tools and background writers that nobody waits for may)."""
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self.write_wait = write_wait
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if self.dialect == "sqlite":
            if self.sqlite_path:
                Path(self.sqlite_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": self.busy_timeout}
            kwargs["pool_size"] = 8
            kwargs["max_overflow"] = 32
        elif self.dialect == "postgresql":
            if self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
            # an unreachable host fails in seconds instead of the OS's minutes
            kwargs["connect_args"] = {}
            if "connect_timeout" not in self.url.query:
                kwargs["connect_args"]["connect_timeout"] = CONNECT_TIMEOUT
            if write_wait is not None:  # only lock waits: a long statement is the work itself
                options = self.url.query.get("options", "")  # e.g. -csearch_path=...: kept
                options = " ".join([*([options] if isinstance(options, str) else options)])
                timeout = f"-c lock_timeout={round(write_wait * 1000)}"
                kwargs["connect_args"]["options"] = f"{options} {timeout}".strip()
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._writer: WriterLock | nullcontext[None] = (
            WriterLock(self.sqlite_path, write_wait) if self.dialect == "sqlite" else nullcontext()
        )
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, round(self.busy_timeout * 1000))

    @property
    def busy_timeout(self) -> float:
        """How long SQLite's own busy handler waits for a lock held by a connection outside
        the `WriterLock` (seconds): the write wait, or 30 s when writes wait without bound."""
        return 30.0 if self.write_wait is None else self.write_wait

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot on both dialects)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction; commits on success, rolls back on any error.

        On SQLite, writers also queue on a `WriterLock` before `BEGIN IMMEDIATE`: SQLite's own
        busy handler sleeps in growing steps, which turns a queue of writers into long stalls;
        the lock hands the database over as soon as it is free. A lock not had within
        `write_wait` raises `Busy`, after the rollback.
        """
        with self._writer, self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            try:
                with conn.begin():
                    yield conn
            except OperationalError as exc:
                if is_lock_timeout(exc):
                    raise self.busy() from exc
                raise

    def busy(self) -> Busy:
        """The error of a write that waited `write_wait` for the database in vain."""
        return busy_error(self.busy_timeout)

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite database file, or None (another dialect, in memory, a `file:` URI)."""
        database = self.url.database or ""
        if self.dialect != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
            return None
        return database

    @property
    def writer_lock(self) -> WriterLock | nullcontext[None]:
        """The lock `write()` takes before `BEGIN IMMEDIATE` (a no-op off SQLite), for stores
        that write through connections of their own."""
        return self._writer

    # -- migrations -------------------------------------------------------------------------

    def _alembic_config(self, conn: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", "nextoffer.store:migrations")
        cfg.attributes["connection"] = conn
        return cfg

    def upgrade(self, target: str = "head") -> None:
        """Bring the schema to `target` (Alembic revision), creating it on an empty database."""
        with self.engine.begin() as conn:
            _patient(conn)
            command.upgrade(self._alembic_config(conn), target)

    def downgrade(self, target: str) -> None:
        """Roll the schema back to `target` (`base` removes every nextoffer table)."""
        with self.engine.begin() as conn:
            _patient(conn)
            command.downgrade(self._alembic_config(conn), target)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return ScriptDirectory.from_config(self._alembic_config(conn)).get_current_head()

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._writer, WriterLock):
            self._writer.close()


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether a driver error is a lock wait given up: SQLite's `database is locked` (its busy
    timeout ran out) or PostgreSQL's `lock_timeout`."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(orig)


def busy_error(wait: float) -> Busy:
    return Busy.retry_after(f"the database is busy with another write (waited {wait:g} s)", wait)


class WriterLock:
    """Where the writers of one SQLite file queue: the threads of this process on a lock, and
    the processes (a server's decision-event writer, other server workers) on an exclusive
    `flock` of `<database>-writer.lock`. Both hand over as soon as the holder lets go, and a
    process that dies lets go with it.

    With a `wait` (seconds), a writer that has not got both within it raises `Busy`: the
    thread lock is taken with a timeout, the `flock` (which has none) is polled at most 2 ms
    apart once it is found taken.
    """

    def __init__(self, database: str | None, wait: float | None = None) -> None:
        self._threads = threading.Lock()
        self.path = f"{database}-writer.lock" if database and fcntl is not None else None
        self.wait = wait
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        wait = self.wait
        deadline = None if wait is None else time.monotonic() + wait
        if not self._threads.acquire(timeout=-1 if wait is None else wait):
            raise busy_error(wait or 0)
        if self.path is None:
            return
        try:
            self._flock(deadline)
        except BaseException:
            self._threads.release()
            raise

    def _flock(self, deadline: float | None) -> None:
        fd = self._file()
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise busy_error(self.wait or 0) from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.002)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # a forked child shares its parent's open file, and with it the lock: open its own
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def _patient(conn: Connection) -> None:
    """Migrations wait for locks as long as it takes: a half-applied upgrade helps nobody."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event below issue BEGIN itself
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
