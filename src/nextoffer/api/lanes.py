"""Worker threads for the blocking part of a request, in two lanes: reads and writes.

The event loop never runs a database call: one request waiting for SQLite's writer (a bulk load
holds it for as long as it runs) would stall every other request of the process, `/v1/health`
included. Each request hands its blocking work to a lane in one hop.

Two lanes, so that reads never queue behind writes: writers of one SQLite file take turns, and
while a long write holds the database, the other writes of a flood wait for it in their
threads. In a lane of their own they can only fill that lane; decisions and reads keep theirs.
A write that finds every write thread taken waits at most the write wait for one (the lock wait
in the thread is bounded by the same setting), then gets `503 busy` with `Retry-After`.

Each lane is a plain `ThreadPoolExecutor` (a hop costs what `run_in_executor` costs, less than
anyio's thread pool with its limiter); its gate is an asyncio semaphore per event loop (tests
run one app under several loops; a server has one).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from nextoffer.errors import Busy

T = TypeVar("T")

READ_THREADS = 16
"""Decisions, Edge interactions and reads: CPU under the GIL, so more would not go faster."""
WRITE_THREADS = 8
"""Writes: SQLite takes one writer at a time; the others wait in these threads."""


class Lane:
    """A pool of `threads` worker threads; with `wait`, a bound on waiting for a free one."""

    def __init__(self, name: str, threads: int, wait: float | None = None) -> None:
        self.name = name
        self.threads = threads
        self.wait = wait
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"nextoffer-{name}")
        self._counting = threading.Lock()
        self._in_flight = 0
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def in_flight(self) -> int:
        """Calls running in the lane's threads now."""
        return self._in_flight

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in one of the lane's threads, in a copy of the caller's context (the
        request's span and log fields go along); `Busy` when none is free within `wait`."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        if self.wait is None:
            return await loop.run_in_executor(self._pool, context.run, self._counted, fn, *args)
        gate = self._gate(loop)
        if gate.locked():
            try:
                await asyncio.wait_for(gate.acquire(), self.wait)
            except TimeoutError:
                raise Busy.retry_after(
                    f"every {self.name} worker is busy (waited {self.wait:g} s)", self.wait
                ) from None
        else:
            await gate.acquire()  # free: returns at once
        try:
            done: Future[T] = self._pool.submit(context.run, self._counted, fn, *args)
        except BaseException:
            gate.release()
            raise
        # the thread, not the awaiting request (which a client may abandon), gives the gate back
        done.add_done_callback(lambda _: _release(loop, gate))
        return await asyncio.wrap_future(done, loop=loop)

    def _counted(self, fn: Callable[..., T], *args: Any) -> T:
        with self._counting:
            self._in_flight += 1
        try:
            return fn(*args)
        finally:
            with self._counting:
                self._in_flight -= 1

    def _gate(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.threads)
        return gate


def _release(loop: asyncio.AbstractEventLoop, gate: asyncio.Semaphore) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: so is its gate
        loop.call_soon_threadsafe(gate.release)


class Lanes:
    """The read lane and the write lane of one application."""

    def __init__(self, write_wait: float) -> None:
        self.reads = Lane("read", READ_THREADS)
        self.writes = Lane("write", WRITE_THREADS, write_wait)
