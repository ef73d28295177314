"""The database handle: engine set-up per dialect, write transactions, and migrations.

SQLite (the default) runs in WAL mode with `synchronous=NORMAL`, a busy timeout, and writes in
`BEGIN IMMEDIATE` transactions, so concurrent writers queue instead of failing half-way; writers
of one file queue on a `WriterLock` first.
PostgreSQL writers serialise per sandbox on the sandbox row (see `library_repo.bump_revision`).
"""

from __future__ import annotations

import os
import threading
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

_WRITE = "nextoffer_write"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Database:
    """One engine per process; `read()` and `write()` hand out connections in a transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if self.dialect == "sqlite":
            if self.sqlite_path:
                Path(self.sqlite_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kwargs["pool_size"] = 8
            kwargs["max_overflow"] = 32
        elif self.dialect == "postgresql":
            if self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._writer: WriterLock | nullcontext[None] = (
            WriterLock(self.sqlite_path) if self.dialect == "sqlite" else nullcontext()
        )
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)

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
        the lock hands the database over as soon as it is free.
        """
        with self._writer, self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

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
            command.upgrade(self._alembic_config(conn), target)

    def downgrade(self, target: str) -> None:
        """Roll the schema back to `target` (`base` removes every nextoffer table)."""
        with self.engine.begin() as conn:
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


class WriterLock:
    """Where the writers of one SQLite file queue: the threads of this process on a lock, and
    the processes (a server's decision-event writer, other server workers) on an exclusive
    `flock` of `<database>-writer.lock`. Both hand over as soon as the holder lets go, and a
    process that dies lets go with it."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self.path = f"{database}-writer.lock" if database and fcntl is not None else None
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        if self.path is None:
            return
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event below issue BEGIN itself
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
