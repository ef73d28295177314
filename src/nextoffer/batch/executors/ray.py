"""The Ray executor: Ray Data `map_batches` over a pool of actors, each compiling once.

`pip install 'nextoffer[ray]'`. Without an address Ray starts on this machine; with
`--ray-address` (or `NEXTOFFER_BATCH_RAY_ADDRESS`) the job runs on that cluster, whose workers
need nextoffer installed too. A Parquet file is read by Ray itself (`read_parquet`, in
parallel); any other source (and any source when per-profile caps apply: the coordinator adds
each profile's counts as it reads) is first spooled to a temporary Parquet file in batches, so the
driver never holds the audience in memory. Ray Data keeps the input order
(`preserve_order`), and the driver receives the rows in that order, exactly like the local
executor.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nextoffer.batch import schema
from nextoffer.batch.decider import Decider
from nextoffer.batch.executors import Exhausted
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.sources import ParquetSource, ProfileSource


class RayMissing(RuntimeError):
    pass


class DecideActor:
    """A Ray actor: builds the Catalog once in its constructor, then decides batch after batch."""

    def __init__(self, plan: BatchPlan) -> None:
        self.decider = Decider(plan)
        self.exhausted = plan.exhausted

    def __call__(self, table: pa.Table) -> pa.Table:
        outs = [self.decider.decide_batch(b, self.exhausted) for b in table.to_batches()]
        return pa.Table.from_batches(outs, schema.WORKER_DECISIONS)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayMissing("the ray executor needs Ray: pip install 'nextoffer[ray]'") from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int = 1, *, address: str | None = None) -> None:
        self.workers = max(1, workers)
        self.address = address
        self.ray = _ray()
        self._spool: Path | None = None

    def _init(self) -> None:
        if self.ray.is_initialized():
            return
        if self.address:
            self.ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        else:
            self.ray.init(
                num_cpus=self.workers,
                include_dashboard=False,
                ignore_reinit_error=True,
                log_to_driver=False,
                configure_logging=False,
            )

    def _actor_cpus(self) -> float:
        """CPUs each actor asks for: one, unless the actors would leave none for reading the
        file (Ray Data's read tasks need one), which would stall the job forever."""
        cpus = float(self.ray.cluster_resources().get("CPU", 1))
        return min(1.0, max(cpus - 1, 0.1) / self.workers)

    def _parquet_of(self, plan: BatchPlan, source: ProfileSource) -> tuple[str, list[str]]:
        if isinstance(source, ParquetSource):
            return str(source.path.resolve()), source.columns
        self._spool = Path(tempfile.mkdtemp(prefix="nextoffer-batch-"))
        path = self._spool / "profiles.parquet"
        layout: pa.Schema = getattr(source, "schema", schema.PROFILES)  # + per-profile counts
        with pq.ParquetWriter(path, layout) as writer:
            for batch in source.batches(plan.audience, plan.statuses, plan.batch_size):
                writer.write_batch(batch)
        return str(path), list(layout.names)

    def run(
        self, plan: BatchPlan, source: ProfileSource, exhausted: Exhausted
    ) -> Iterator[pa.RecordBatch]:
        from dataclasses import replace

        self._init()
        data = self.ray.data
        context = data.DataContext.get_current()
        context.execution_options.preserve_order = True
        path, columns = self._parquet_of(plan, source)
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
            blocks = max(self.workers, min(rows // (plan.batch_size * 4), 1000), 1)
            read = data.read_parquet(path, override_num_blocks=blocks).select_columns(columns)
            dataset = read.map_batches(
                DecideActor,
                fn_constructor_args=(replace(plan, exhausted=exhausted()),),
                batch_format="pyarrow",
                batch_size=plan.batch_size,
                compute=data.ActorPoolStrategy(size=self.workers),
                num_cpus=self._actor_cpus(),
                zero_copy_batch=True,
            )
            for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                yield from table.to_batches()
        finally:
            self.close()

    def close(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None
