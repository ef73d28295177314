"""`Database`: readers never wait for a writer (WAL), and a writer waits for the database at
most `write_wait`, then gets `Busy` with nothing written (issue 15). Real SQLite files and the
real PostgreSQL server; the other writer is another `Database`, a foreign connection, or a
PostgreSQL row lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from nextoffer.capping.store import Increment
from nextoffer.errors import Busy
from nextoffer.store.capping_sql import SqlStore
from nextoffer.store.database import Database, WriterLock
from tests.conftest import postgres_database

WAIT = 0.3


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    file = tmp_path / "db.sqlite"
    db = Database(f"sqlite:///{file}")
    db.upgrade()
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
    db.dispose()
    yield file


@contextmanager
def holding(enter: object) -> Iterator[threading.Event]:
    """Run the context manager `enter()` in a thread and keep it entered until the block ends."""
    held, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with enter():  # type: ignore[operator]
                held.set()
                done.wait(60)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            failures.append(exc)
            held.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert held.wait(20) and not failures, failures
    try:
        yield held
    finally:
        done.set()
        thread.join(20)


def probe_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT id FROM probe ORDER BY id")]


@contextmanager
def pending_insert(db: Database) -> Iterator[None]:
    """A write transaction that has inserted row 2 and not committed yet."""
    with db.write() as conn:
        conn.exec_driver_sql("INSERT INTO probe VALUES (2)")
        yield


@contextmanager
def foreign_write(path: Path) -> Iterator[None]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO probe VALUES (3)")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def assert_busy(exc: Busy, wait: float) -> None:
    assert exc.code == "busy"
    assert exc.extra == {"retryAfter": 1}
    assert exc.detail == (
        f"the database is busy with another write (waited {wait:g} s); "
        "nothing was written: retry in 1 s"
    )


def test_reads_do_not_wait_for_a_writer_and_see_the_last_commit(path: Path) -> None:
    db = Database(f"sqlite:///{path}", write_wait=WAIT)
    other = Database(f"sqlite:///{path}")
    try:
        with holding(lambda: pending_insert(other)):
            assert probe_ids(db) == [1]  # answered while the writer holds, without its row
        with holding(lambda: foreign_write(path)):
            assert probe_ids(db) == [1, 2]
        assert probe_ids(db) == [1, 2]
    finally:
        db.dispose()
        other.dispose()


@pytest.mark.parametrize("holder", ["nextoffer-writer", "foreign-writer"])
def test_a_writer_that_cannot_have_the_database_in_time_is_busy_and_writes_nothing(
    path: Path, holder: str
) -> None:
    db = Database(f"sqlite:///{path}", write_wait=WAIT)
    other = Database(f"sqlite:///{path}")
    hold = (lambda: pending_insert(other)) if holder == "nextoffer-writer" else None
    try:
        with holding(hold or (lambda: foreign_write(path))):
            began = time.monotonic()
            with pytest.raises(Busy) as caught, db.write() as conn:
                conn.exec_driver_sql("INSERT INTO probe VALUES (4)")
            assert time.monotonic() - began >= WAIT  # it did wait (a lower bound, not a limit)
        assert_busy(caught.value, WAIT)
        kept = [1, 2] if holder == "nextoffer-writer" else [1]
        assert probe_ids(db) == kept  # the holder's work only; the refused insert is not there
        with db.write() as conn:  # the retry, once the writer has let go
            conn.exec_driver_sql("INSERT INTO probe VALUES (4)")
        assert probe_ids(db) == [*kept, 4]
    finally:
        db.dispose()
        other.dispose()


def test_without_a_write_wait_a_writer_queues_until_the_holder_lets_go(path: Path) -> None:
    """Command-line tools and background writers keep the old behaviour: they wait."""
    db = Database(f"sqlite:///{path}")
    other = Database(f"sqlite:///{path}")
    started, finished = threading.Event(), threading.Event()

    def write() -> None:
        started.set()
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO probe VALUES (5)")
        finished.set()

    try:
        with holding(lambda: pending_insert(other)):
            writer = threading.Thread(target=write)
            writer.start()
            assert started.wait(10)
            assert not finished.wait(WAIT * 2)  # still queued behind the holder
        writer.join(20)
        assert finished.is_set()
        assert probe_ids(db) == [1, 2, 5]
    finally:
        db.dispose()
        other.dispose()


def test_the_writer_lock_is_bounded_for_threads_of_one_process_too(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "x.db"), wait=WAIT)
    with holding(lambda: lock):
        with pytest.raises(Busy) as caught:
            lock.__enter__()
        assert_busy(caught.value, WAIT)
    with lock:  # free again
        pass
    lock.close()


def test_a_capping_reservation_behind_a_foreign_writer_is_busy(path: Path) -> None:
    """The SQL counter store writes through connections of its own: same bound, same error."""
    db = Database(f"sqlite:///{path}", write_wait=WAIT)
    store = SqlStore(db)
    try:
        with holding(lambda: foreign_write(path)), pytest.raises(Busy) as caught:
            store.reserve([Increment("cap:k", 1, limit=5, ttl=3600)])
        assert_busy(caught.value, WAIT)
        assert store.read(["cap:k"]) == [0]
        assert store.reserve([Increment("cap:k", 1, limit=5, ttl=3600)]).over is None
        assert store.read(["cap:k"]) == [1]
    finally:
        store.close()
        db.dispose()


def test_postgresql_lock_waits_are_bounded_and_the_transaction_rolls_back() -> None:
    """`lock_timeout` from `write_wait`, added to the URL's own `options` (here the test
    schema's search_path, which must survive), and a timed-out lock wait is `Busy`."""
    with postgres_database("stall") as base:
        with base.write() as conn:
            conn.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
        url = base.url.render_as_string(hide_password=False)
        db = Database(url, write_wait=WAIT)
        try:

            @contextmanager
            def row_lock() -> Iterator[None]:
                with base.write() as conn:
                    conn.exec_driver_sql("SELECT id FROM probe WHERE id = 1 FOR UPDATE")
                    yield

            with holding(row_lock), pytest.raises(Busy) as caught, db.write() as conn:
                conn.exec_driver_sql("INSERT INTO probe VALUES (2)")
                conn.exec_driver_sql("UPDATE probe SET id = 10 WHERE id = 1")
            assert_busy(caught.value, WAIT)
            assert probe_ids(db) == [1]  # the insert before the lock wait was rolled back
            with db.write() as conn:
                timeout = conn.execute(sa.text("SHOW lock_timeout")).scalar()
                conn.exec_driver_sql("INSERT INTO probe VALUES (2)")
            assert timeout == "300ms"
            assert probe_ids(db) == [1, 2]
            db.upgrade()  # migrations wait as long as it takes: lock_timeout 0 for them
        finally:
            db.dispose()
