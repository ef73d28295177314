"""Per-profile caps against the counter store, on the coordinator (workers have no store).

Workers decide each profile like the online gate, in a capping ledger of the profile's counts
(`Decider.propositions`): an offer is capped when one of its per-profile counters is at its
limit, and when the proposals would overflow a counter (the same offer in several scopes), that
counter is marked and the profile is decided again, the way a refused reservation is. Whose
counters: the stored profile (`pid:<id>`) when profiles come from the profile store, else the
primary identity (`id:<namespace>:<id>`); without an identity, per-profile caps do not apply.

Reading: `CountedSource` wraps the job's profile source and adds to every input batch the
profiles' non-zero per-profile counts (`schema.COUNTS`), from ONE store read per batch.

Counting: as decision rows are written, their per-profile increments go to a spool file
(Arrow IPC, one record batch per output batch, merged per batch), never to the store; when the
job is published the spool is streamed into the store one batch at a time. Memory stays bounded
whatever the audience, and a job that fails or is cancelled before publishing adds nothing (the
spool is deleted). A store failure part way through publishing leaves the counts added so far
(caps then err on the side of fewer proposals) and the job is not published.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.ipc as ipc

from nextoffer.batch import schema
from nextoffer.batch.decider import JobCaps
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.sources import ProfileSource, normalise
from nextoffer.batch.subjects import subject_of
from nextoffer.capping.plans import Moment
from nextoffer.capping.rules import EventKind
from nextoffer.capping.store import CounterStore, Increment, merge
from nextoffer.profiles.xdm import primary_identity

_SPOOL = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("by", pa.int64(), nullable=False),
        pa.field("ttl", pa.int64()),
    ]
)


def _subjects(batch: pa.RecordBatch, stored: bool) -> list[str | None]:
    """Each input row's counter subject (profile id from the store, else primary identity)."""
    if stored:
        return [subject_of(pid, None, True) for pid in batch.column("profileId").to_pylist()]
    out: list[str | None] = []
    for text in batch.column("identityMap").to_pylist():
        try:
            identity = primary_identity(orjson.loads(text)) if text else None
        except orjson.JSONDecodeError:
            identity = None  # the worker reports the broken row
        out.append(subject_of(None, identity, False))
    return out


class ProfileCounters:
    """A job's per-profile counters: read per input batch, spooled and added at publish."""

    def __init__(self, store: CounterStore, plan: BatchPlan, caps: JobCaps) -> None:
        self.store = store
        self.plan = plan
        self.caps = caps
        self._spool_path: Path | None = None
        self._spool: ipc.RecordBatchStreamWriter | None = None
        self.added = 0
        """Decisions counted so far (added to the per-profile counters at publish)."""

    # -- reading ---------------------------------------------------------------------------------

    def with_counts(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch (as `schema.PROFILES`) with each profile's non-zero counts: one read."""
        if batch.schema != schema.PROFILES:
            batch = normalise(batch)
        per_row: list[list[str]] = []
        wanted: dict[str, None] = {}
        moments: dict[str, list[str]] = {}
        for subject in _subjects(batch, self.plan.stored_profiles):
            if subject is None:
                per_row.append([])
                continue
            keys = moments.get(subject)
            if keys is None:
                keys = moments[subject] = self.caps.profile_keys(subject)
                wanted.update(dict.fromkeys(keys))
            per_row.append(keys)
        ordered = list(wanted)
        counts = dict(zip(ordered, self.store.read(ordered), strict=True)) if ordered else {}
        column = []
        for keys in per_row:
            found = {k: counts[k] for k in keys if counts.get(k)}
            column.append(orjson.dumps(found).decode() if found else None)
        return batch.append_column(schema.COUNTS, pa.array(column, pa.string()))

    # -- counting --------------------------------------------------------------------------------

    def spool(self, rows: pa.RecordBatch) -> None:
        """Note the per-profile increments of written decision rows (`schema.DECISIONS`)."""
        increments = merge(list(self._increments(rows)))
        if not increments:
            return
        if self._spool is None:
            fd, name = tempfile.mkstemp(prefix="nextoffer-batch-counts-", suffix=".arrow")
            os.close(fd)
            self._spool_path = Path(name)
            self._spool = ipc.new_stream(str(self._spool_path), _SPOOL)
        self._spool.write_batch(
            pa.RecordBatch.from_arrays(
                [
                    pa.array([i.key for i in increments], pa.string()),
                    pa.array([i.by for i in increments], pa.int64()),
                    pa.array([i.ttl for i in increments], pa.int64()),
                ],
                schema=_SPOOL,
            )
        )
        self.added += sum(i.by for i in increments)

    def _increments(self, rows: pa.RecordBatch) -> Iterator[Increment]:
        stored = self.plan.stored_profiles
        candidates = {(o.id, p): o for o, p in self.caps.candidates}
        columns = [
            rows.column(name).to_pylist()
            for name in ("profileId", "identityNamespace", "identityId", "placementId", "offers")
        ]
        for pid, ns, ident, placement, proposed in zip(*columns, strict=True):
            capped = [
                candidates[(o["id"], placement)]
                for o in proposed
                if (o["id"], placement) in candidates
            ]
            if not capped:
                continue
            subject = subject_of(pid, (ns, ident) if ns and ident else None, stored)
            if subject is None:
                continue
            moment = Moment(self.caps.now, subject)
            for offer in capped:
                for counter in moment.counters(self.caps.profiles.rules(offer), placement):
                    if counter.rule.event is EventKind.DECISION:
                        yield Increment(counter.key, 1, None, counter.ttl)

    def publish(self) -> None:
        """Add every spooled increment to the store, a spooled batch per call."""
        if self._spool is None or self._spool_path is None:
            return
        self._spool.close()
        self._spool = None
        with ipc.open_stream(str(self._spool_path)) as reader:
            for batch in reader:
                self.store.add(_increments_of(batch))

    def close(self) -> None:
        """Drop the spool (after publishing, or when the job failed: then nothing is added)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._spool_path is not None:
            self._spool_path.unlink(missing_ok=True)
            self._spool_path = None


def _increments_of(batch: pa.RecordBatch) -> list[Increment]:
    keys, bys, ttls = (c.to_pylist() for c in batch.columns)
    return [Increment(k, b, None, t) for k, b, t in zip(keys, bys, ttls, strict=True)]


class CountedSource:
    """A profile source whose batches carry the profiles' per-profile counts."""

    schema = schema.PROFILES_WITH_COUNTS

    def __init__(self, source: ProfileSource, counters: ProfileCounters) -> None:
        self.source = source
        self.counters = counters
        self.description = source.description

    def batches(
        self, audience: str, statuses: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        for batch in self.source.batches(audience, statuses, batch_size):
            yield self.counters.with_counts(batch)
