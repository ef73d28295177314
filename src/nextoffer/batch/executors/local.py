"""The local executor: worker processes on this machine, each compiling the Catalog once.

Batches stream from the source to a pool of processes (spawned, so a server's threads and
connections are never forked) with at most two batches in flight per worker, and come back in
input order: memory stays bounded whatever the audience size. `workers=0` decides in the
calling process, for small jobs and debugging.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

import pyarrow as pa

from nextoffer.batch.decider import Decider
from nextoffer.batch.executors import Exhausted
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.sources import ProfileSource

_decider: Decider | None = None


def _start_worker(plan: BatchPlan) -> None:
    global _decider
    _decider = Decider(plan)


def _decide(batch: pa.RecordBatch, exhausted: frozenset[str]) -> pa.RecordBatch:
    assert _decider is not None, "worker not initialised"
    return _decider.decide_batch(batch, exhausted)


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int = 1, *, in_flight_per_worker: int = 2) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0")
        self.workers = workers
        self.in_flight = max(1, workers) * in_flight_per_worker
        self._pool: ProcessPoolExecutor | None = None

    def run(
        self, plan: BatchPlan, source: ProfileSource, exhausted: Exhausted
    ) -> Iterator[pa.RecordBatch]:
        batches = source.batches(plan.audience, plan.statuses, plan.batch_size)
        if self.workers == 0:
            decider = Decider(plan)
            for batch in batches:
                yield decider.decide_batch(batch, exhausted())
            return
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(plan,),
        )
        pending: deque[Future[pa.RecordBatch]] = deque()
        try:
            for batch in batches:
                pending.append(self._pool.submit(_decide, batch, exhausted()))
                if len(pending) >= self.in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
