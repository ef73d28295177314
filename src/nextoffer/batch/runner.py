"""Running one batch: the coordinator between an executor's workers and the output file.

It charges total caps in input order, decides again where a cap ran out, reads per-profile
counters for each input batch and counts what was proposed (see `profile_counters.py`), and
publishes the output only when every row is written. Any failure or cancellation leaves the
target (and the counters) as they were.

Total ("in total", `scope: global`) caps are honoured exactly: workers decide freely, and the
coordinator charges each total cap **in input order**, profile by profile, in a capping ledger
(`capping.ledger`). A profile proposed an offer whose cap has run out is decided again by the
coordinator with that counter marked, so the result is exactly what deciding the audience one
profile after another would give: a cap of 1,000 yields exactly 1,000 proposals, and the same
ones whatever the worker count or executor.

Why not reserve through shared counters from every worker: the winners would depend on which
worker got there first, and runs would differ row for row. Why not allocate by score: that
needs every proposal before any row is written (memory grows with the audience, and the output
is rewritten). Workers get the spent counters with each batch, so after a cap runs out they
stop proposing its offer and re-decisions stay few.

The ledger starts from what the counter store (when one is configured) holds for each total
counter in the current window; the job's charges are added there when the job is published.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from nextoffer.batch import schema
from nextoffer.batch.decider import Decider, public
from nextoffer.batch.executors import Executor
from nextoffer.batch.output import DecisionWriter
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.profile_counters import CountedSource, ProfileCounters
from nextoffer.batch.sources import BatchInputError, ProfileSource, StoreSource
from nextoffer.capping.ledger import Ledger
from nextoffer.capping.store import CounterStore

Progress = Callable[[int, int], None]
"""Called after each written batch with (profiles so far, rows so far)."""


class BatchCancelled(Exception):
    """The job was asked to stop; nothing was published."""


class CapUse(NamedTuple):
    """One total cap of a job: `label` is `<offer>#<rule>[@<placement>]`."""

    label: str
    offer_id: str
    limit: int
    before: int
    """Its count when the job started (0 in a job without a counter store)."""
    proposed: int
    """Proposals of this job that it counts."""

    @property
    def full(self) -> bool:
        return self.before + self.proposed >= self.limit


@dataclass
class Summary:
    """What a batch decided (the CLI's closing table; a job's `nextoffer:summary`)."""

    profiles: int = 0
    rows: int = 0
    """Decision rows: one per profile and scope."""
    decisions: int = 0
    """Rows that proposed at least one offer."""
    fallbacks: int = 0
    empty: int = 0
    """Rows with neither an offer nor a fallback."""
    offers: Counter[str] = field(default_factory=Counter)
    """Proposals per offer id."""
    redecided: int = 0
    """Profiles decided again because a total cap ran out under them."""
    capped: dict[str, int] = field(default_factory=dict)
    """Decisions charged to each total cap (`<offer>#<rule>[@<placement>]`)."""
    cap_use: list[CapUse] = field(default_factory=list)
    """Every total cap in force: its limit, its count before the job, what the job proposed."""
    profile_counts: int = 0
    """Per-profile counter increments the job added when it was published."""
    seconds: float = 0.0
    output: str | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        n = len(batch)
        if not n:
            return
        self.rows += n
        scope_index = batch.column("scopeIndex")
        self.profiles += int(pc.sum(pc.equal(scope_index, 0)).as_py() or 0)
        offers = batch.column("offers")
        has_offer = pc.greater(pc.list_value_length(offers), 0)
        proposed = int(pc.sum(has_offer).as_py() or 0)
        fallbacks = n - batch.column("fallbackId").null_count
        self.decisions += proposed
        self.fallbacks += fallbacks
        self.empty += n - proposed - fallbacks
        ids = pc.list_flatten(offers).field("id")
        if len(ids):
            for entry in pc.value_counts(ids).to_pylist():
                self.offers[entry["values"]] += entry["counts"]

    def as_dict(self) -> dict[str, object]:
        return {
            "profiles": self.profiles,
            "rows": self.rows,
            "decisions": self.decisions,
            "fallbacks": self.fallbacks,
            "empty": self.empty,
            "offers": dict(sorted(self.offers.items())),
            "redecided": self.redecided,
            "totalCaps": dict(sorted(self.capped.items())),
            "profileCounts": self.profile_counts,
            "seconds": round(self.seconds, 3),
        }


def run_batch(
    plan: BatchPlan,
    source: ProfileSource,
    executor: Executor,
    output: str | Path,
    *,
    output_format: str | None = None,
    counter_store: CounterStore | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    before_publish: Callable[[Summary], None] | None = None,
    dry_run: bool = False,
) -> Summary:
    """Decide for every member of the plan's audience in `source` and write `output`.

    With `counter_store` (the online decisions' counters), total caps start from what their
    counters already hold and per-profile caps apply; the job's proposals are added to both
    once `before_publish` (run when every row is written, before the file is renamed into
    place; a job turns INGESTING there; raising aborts) has passed. Raises BatchInputError
    (bad profiles, empty audience), BatchCancelled or OutputError; the output is then
    untouched. A `dry_run` reads the counters and decides as a run would, writes the output,
    and adds nothing to them.
    """
    started = time.perf_counter()
    writer = DecisionWriter(output, output_format)
    plan = replace(plan, stored_profiles=isinstance(source, StoreSource))
    coordinator = Decider(plan)
    budget, labels = _budget(coordinator, counter_store)
    plan = replace(plan, exhausted=frozenset(budget.marks))
    counters = None
    if counter_store is not None and coordinator.caps.candidates:
        counters = ProfileCounters(counter_store, plan, coordinator.caps)
        source = CountedSource(source, counters)
    summary = Summary()
    try:
        for batch in executor.run(plan, source, lambda: frozenset(budget.marks)):
            if cancelled is not None and cancelled():
                raise BatchCancelled("the batch was cancelled")
            checked = _charge(batch, coordinator, budget, len(plan.scopes), summary)
            writer.write(checked)
            if counters is not None:
                counters.spool(checked)
            summary.add(checked)
            if progress is not None:
                progress(summary.profiles, summary.rows)
        if summary.profiles == 0:
            raise BatchInputError(
                f"audience {plan.audience} is empty: nobody in {source.description} is in it",
                "empty-audience",
            )
        summary.capped = {labels[key]: n for key, n in budget.charged.items()}
        summary.cap_use = [
            CapUse(
                labels[c.key],
                offer.id,
                c.rule.limit,
                budget.counts.get(c.key, 0),
                budget.charged.get(c.key, 0),
            )
            for offer, _, c in coordinator.caps.total_counters
        ]
        summary.output = str(writer.path)
        summary.seconds = time.perf_counter() - started
        summary.profile_counts = counters.added if counters is not None else 0
        if before_publish is not None:
            before_publish(summary)
        if counter_store is not None and budget.charged and not dry_run:  # as online
            counter_store.add(budget.pending())
        if counters is not None and not dry_run:
            counters.publish()
        writer.commit()
    except BaseException:
        writer.abort()
        executor.close()
        raise
    finally:
        if counters is not None:
            counters.close()
    return summary


def _budget(decider: Decider, store: CounterStore | None) -> tuple[Ledger, dict[str, str]]:
    """The total caps' ledger, from what the store holds (ONE read), and each counter's label
    in the summary (`<offer>#<rule>[@<placement>]`)."""
    caps = decider.caps
    budget = Ledger(caps.totals, caps.total_moment)
    counters = [counter for _, _, counter in caps.total_counters]
    keys = [counter.key for counter in counters]
    used = store.read(keys) if store is not None and keys else [0] * len(keys)
    budget.load(counters, used)
    labels = {
        counter.key: f"{offer.id}#{counter.rule.index}" + (f"@{placement}" if placement else "")
        for offer, placement, counter in caps.total_counters
    }
    return budget, labels


def _charge(
    batch: pa.RecordBatch, decider: Decider, budget: Ledger, scopes: int, summary: Summary
) -> pa.RecordBatch:
    """Charge the batch's total-capped proposals in order; re-decide profiles that overflow."""
    capped = batch.column(schema.CAPPED)
    if capped.null_count == len(batch):
        return public(batch)
    subjects = batch.column(schema.SUBJECT)
    pieces: list[pa.RecordBatch] = []
    start = 0
    for i, keys_json in enumerate(capped.to_pylist()):
        if keys_json is None:
            continue
        charges = budget.by_key(orjson.loads(keys_json))
        if not budget.short(charges):
            budget.charge(charges)
            continue
        # a cap ran out before this profile's turn: decide it as if it had run out already
        redone = _redecide(decider, budget, subjects[i].as_py())
        summary.redecided += 1
        pieces.append(public(batch.slice(start, i - start)))
        pieces.append(public(redone))
        start = i + scopes
    if not pieces:
        return public(batch)
    pieces.append(public(batch.slice(start)))
    table = pa.Table.from_batches([p for p in pieces if len(p)], schema.DECISIONS)
    return table.combine_chunks().to_batches()[0]


def _redecide(decider: Decider, budget: Ledger, subject: str) -> pa.RecordBatch:
    exhausted = set(budget.marks)
    while True:
        rows, keys = decider.redecide(subject, frozenset(exhausted))
        charges = budget.by_key(keys)
        short = budget.short(charges)
        if not short:
            budget.charge(charges)
            return rows
        exhausted.update(short)
