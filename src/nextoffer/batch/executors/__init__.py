"""Executors run a plan's Decider over a stream of profile batches, in input order.

They are registered by name (`local`, `ray`); `executor_named` lists the valid names on a bad
one. Every executor yields the same rows in the same order for the same plan: the order is the
input's, and nothing a worker computes depends on which worker it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import pyarrow as pa

from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.sources import ProfileSource

Exhausted = Callable[[], frozenset[str]]
"""The total caps spent so far (a hint for workers: they stop proposing those offers)."""


class Executor(Protocol):
    name: str

    def run(
        self, plan: BatchPlan, source: ProfileSource, exhausted: Exhausted
    ) -> Iterator[pa.RecordBatch]:
        """Worker batches (`schema.WORKER_DECISIONS`) for every member, in input order."""
        ...

    def close(self) -> None: ...


EXECUTORS = ("local", "ray")


class UnknownExecutor(ValueError):
    pass


def executor_named(name: str, *, workers: int = 1, ray_address: str | None = None) -> Executor:
    if name == "local":
        from nextoffer.batch.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from nextoffer.batch.executors.ray import RayExecutor

        return RayExecutor(workers, address=ray_address)
    raise UnknownExecutor(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
