"""Large bulk profile loads, run in a child process so that the serving process keeps its GIL.

Committing a load in short steps keeps the database writer free (`ProfileStore.bulk_upsert`),
but the load's own Python work (parsing 150,000 JSON lines, validating, planning merges, and the
garbage collections of that heap) still shared the server's GIL: every request of the node
stalled, `/v1/health` p99 63 ms and a decision's 76 ms during a load (benchmarks/README.md,
"Stall"). Here the load runs in a worker process at a lower CPU priority (nice 10, as the
decision-event writer's): the kernel runs the server first whenever a request arrives, and the
two processes share only the database. The body reaches the worker as a file the server spooled
it to: the server never parses it.

Small loads stay in the server's write lane: starting a worker costs more than they do, and a
database only this process can open (in-memory SQLite) has nothing to share.

Errors cross back pickled (`NextofferError.__reduce__`), so the client gets the same problem,
line numbers and `applied` count as from a load in the server. A worker that dies mid-load (the
OOM killer, `kill -9`) is a `503 busy`: the steps it committed stay written, and sending the load
again finishes it (a load is idempotent).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nextoffer.errors import Busy
from nextoffer.jsonlines import Line, array_lines, parse_document, read_lines
from nextoffer.profiles.merge import BulkResult
from nextoffer.store.database import Database
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Tenant

IN_PROCESS_BYTES = 1024 * 1024
"""Bodies up to this size load in the server's own write lane."""

WORKERS = 2
"""Loads that run at once in worker processes; more wait for one (the database takes one writer
at a time anyway, and each worker holds a load's parse in memory)."""

NICE = 10

Body = Literal["jsonl", "json"]
"""How the spooled file holds the profiles: JSON Lines, or one JSON array."""


@dataclass(frozen=True)
class StoreConfig:
    """What a worker needs to open the same `ProfileStore` as the server's."""

    database_url: str
    write_wait: float | None
    event_window_days: int
    max_events: int
    event_budget_bytes: int

    @classmethod
    def of(cls, store: ProfileStore) -> StoreConfig:
        return cls(
            database_url=store.db.url.render_as_string(hide_password=False),
            write_wait=store.db.write_wait,
            event_window_days=store.event_window_days,
            max_events=store.max_events,
            event_budget_bytes=store.event_budget_bytes,
        )

    def open(self) -> ProfileStore:
        return ProfileStore(
            Database(self.database_url, write_wait=self.write_wait),
            event_window_days=self.event_window_days,
            max_events=self.max_events,
            event_budget_bytes=self.event_budget_bytes,
        )


class ProfileLoads:
    """Runs `bulk_upsert` over a spooled body in a worker process (started on first use)."""

    def __init__(self, store: ProfileStore, *, workers: int = WORKERS) -> None:
        self.store = store
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def shareable(self) -> bool:
        """Whether another process can open the database (not an in-memory SQLite one)."""
        db = self.store.db
        return db.dialect != "sqlite" or bool(db.sqlite_path)

    def in_worker(self, size: int) -> bool:
        """Whether a body of `size` bytes loads in a worker process."""
        return size > IN_PROCESS_BYTES and self.shareable

    def load_here(self, tenant: Tenant, path: Path, body: Body) -> BulkResult:
        """Load in the calling thread (a small load, in the server's write lane)."""
        return load_file(self.store, tenant, path, body)

    def submit(self, tenant: Tenant, path: Path, body: Body) -> Future[BulkResult]:
        """Load the profiles of the file at `path` into the tenant; the file is the caller's
        to delete once the future is done."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded server
                    initializer=_start_worker,
                    initargs=(StoreConfig.of(self.store),),
                )
            pool = self._pool
        try:
            inner = pool.submit(_load, tenant, str(path), body)
        except BrokenProcessPool:
            self._reset(pool)
            raise _died() from None
        outer: Future[BulkResult] = Future()

        def relay(done: Future[BulkResult]) -> None:
            try:
                outer.set_result(done.result())
            except BrokenProcessPool:
                self._reset(pool)
                outer.set_exception(_died())
            except BaseException as exc:  # the load's own error, as the store raised it
                outer.set_exception(exc)

        inner.add_done_callback(relay)
        return outer

    def close(self) -> None:
        """Wait for running loads, then stop the workers."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _reset(self, broken: ProcessPoolExecutor) -> None:
        """Forget a pool whose worker died; the next load starts a new one."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)


def load_file(store: ProfileStore, tenant: Tenant, path: Path, body: Body) -> BulkResult:
    """Check the whole file, then write it in steps (`bulk_upsert`). JSON Lines are read twice
    from the file, never held in memory; an array is one document, parsed whole."""
    if body == "json":
        return store.bulk_upsert(tenant, array_lines(parse_document(path.read_bytes()), "profiles"))
    return store.bulk_upsert(tenant, lambda: _lines(path))


def _lines(path: Path) -> Iterator[Line]:
    with path.open("rb") as file:
        yield from read_lines(file)


# -- the worker ---------------------------------------------------------------------------------

_store: ProfileStore | None = None


def _start_worker(config: StoreConfig) -> None:
    global _store
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops first, then shuts us down
    with contextlib.suppress(OSError):  # not allowed: the load runs at the server's priority
        os.nice(NICE)
    _store = config.open()


def _load(tenant: Tenant, path: str, body: Body) -> BulkResult:
    assert _store is not None, "the worker was not started by ProfileLoads"
    return load_file(_store, tenant, Path(path), body)


def _died() -> Busy:
    return Busy(
        "the process running the bulk load stopped before it finished; the steps it committed "
        "are kept: send the load again to finish it (a load is idempotent)",
        code=Busy.default_code,
        extra={"retryAfter": 1},
    )
