"""Deciding a batch of profiles with the online engine: record batch in, decision rows out.

A `Decider` compiles the plan's library into a Catalog once and then calls the same
`engine.decide` as the Decisioning API, per profile, with the job's instant and the profile's
own seed. Output columns are built column by column (no per-row dicts), which is what keeps a
worker near the engine's own speed.

Caps are read through capping ledgers (`capping.ledger`), as online: total caps on decision
events from the total counters the coordinator found spent (`exhausted`, marks), per-profile
caps from the profile's counts the coordinator read for its input batch (see `runner`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pyarrow as pa

from nextoffer.batch import schema
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.sources import normalise
from nextoffer.batch.subjects import (
    BatchProfile,
    is_member,
    profile_of_row,
    profile_seed,
    subject_of,
)
from nextoffer.capping.ledger import Ledger
from nextoffer.capping.plans import CatalogPlan, Counter, Moment
from nextoffer.capping.rules import CappingRule, EventKind
from nextoffer.engine import (
    CappingView,
    Catalog,
    DecisionRequest,
    Offer,
    Proposition,
    ScopeRequest,
    build_catalog,
    decide,
)
from nextoffer.ranking import AutoModel, ThompsonScorer
from nextoffer.wire.content import content_fields

Row = tuple[str | None, str | None, str | None, str | None, str | None]
"""A profile as the five columns of `schema.PROFILES`."""


class BadProfile(ValueError):
    """A profile row that cannot be read (its JSON is broken or of the wrong shape)."""


def _in_total(rule: CappingRule) -> bool:
    """Total caps batch charges: decision events (it makes no impressions or clicks)."""
    return not rule.per_profile and rule.event is EventKind.DECISION


def _per_profile(rule: CappingRule) -> bool:
    return rule.per_profile


class JobCaps:
    """A catalog's caps as one batch job applies them, at the job's instant."""

    def __init__(
        self, catalog: Catalog, sandbox_id: str, scopes: Sequence[ScopeRequest], now: float
    ) -> None:
        self.now = now
        self.scopes = scopes
        self.totals = CatalogPlan(sandbox_id, catalog, keep=_in_total)
        self.total_moment = Moment(now, None)  # total caps count for everyone
        self.total_counters: list[tuple[Offer, str | None, Counter]] = list(
            Ledger(self.totals, self.total_moment).every_counter()
        )
        """Every total counter in force, with its offer and placement (None: all of them)."""
        self.profiles = CatalogPlan(sandbox_id, catalog, keep=_per_profile)
        self.candidates: list[tuple[Offer, str]] = []
        """(offer, placement) of every scope's candidate with a per-profile rule, once each."""
        seen: set[tuple[str, str]] = set()
        for scope in scopes:
            for offer in self.profiles.capped_members(scope.activity_id, scope.placement_id):
                if self.profiles.rules(offer) and (offer.id, scope.placement_id) not in seen:
                    seen.add((offer.id, scope.placement_id))
                    self.candidates.append((offer, scope.placement_id))

    def spent(self, exhausted: frozenset[str]) -> Ledger | None:
        """The total caps' view: the counters the coordinator found spent (None: no total cap)."""
        return (
            Ledger(self.totals, self.total_moment, marks=exhausted) if self.total_counters else None
        )

    def of_profile(
        self, subject: str, counts: dict[str, int], total: Ledger | None = None
    ) -> Ledger:
        """A profile's per-profile counters (its counts as read), after the total caps."""
        return Ledger(self.profiles, Moment(self.now, subject), counts, before=total)

    def profile_keys(self, subject: str) -> list[str]:
        """Every per-profile counter the subject's decision may check (the coordinator reads
        these per input batch)."""
        return self.of_profile(subject, {}).scope_keys(self.scopes)


class Decider:
    def __init__(self, plan: BatchPlan, catalog: Catalog | None = None) -> None:
        self.plan = plan
        self.catalog = catalog or build_catalog(plan.docs, revision=plan.revision)
        self.caps = JobCaps(self.catalog, plan.sandbox_id, plan.scopes, plan.now.timestamp())
        self._salt = uuid.UUID(plan.job_id).bytes
        self._millis = int(plan.now.timestamp() * 1000)
        self._content: dict[tuple[str, str], str | None] = {}
        self._statuses = frozenset(plan.statuses)
        self._models = {sid: AutoModel.from_state(sid, st) for sid, st in plan.models.items()}

    # -- one profile --------------------------------------------------------------------------

    def member(self, profile: BatchProfile) -> bool:
        if self._statuses == frozenset(("existing", "realized")):
            return is_member(profile.segments, self.plan.audience)
        return profile.segments.get(self.plan.audience) in self._statuses

    def propositions(
        self,
        profile: BatchProfile,
        exhausted: frozenset[str],
        counts: dict[str, int] | None = None,
    ) -> list[Proposition]:
        """The online engine's propositions for one profile, at the job's instant, under the
        total caps spent so far and the profile's per-profile counters (`counts`)."""
        request = DecisionRequest(
            scopes=self.plan.scopes,
            now=self.plan.now,
            subject=profile,
            seed=(seed := profile_seed(self.plan.seed, profile.profile_id)),
            scorer=ThompsonScorer(self._models, seed),
        )

        def run(view: CappingView | None) -> list[Proposition]:
            request.capping = view
            return decide(self.catalog, request)

        total = self.caps.spent(exhausted)
        if not self.caps.candidates:
            return run(total)
        subject = subject_of(profile.profile_id, profile.identity, self.plan.stored_profiles)
        if subject is None:  # nobody's counters: per-profile caps do not apply (as online)
            return run(total)
        ledger = self.caps.of_profile(subject, counts or {}, total)
        return ledger.decide(run, ledger.refused)

    def cap_keys(self, props: Iterable[Proposition]) -> list[str]:
        """The total counters these propositions draw on, one key per proposal."""
        moment, totals = self.caps.total_moment, self.caps.totals
        return [
            counter.key
            for prop in props
            for choice in prop.options
            for counter in moment.counters(totals.rules(choice.offer), prop.placement.id)
        ]

    def proposition_id(self, profile_id: str | None, scope_index: int) -> str:
        digest = hashlib.blake2b(
            f"{profile_id}\0{scope_index}".encode(), digest_size=16, key=self._salt
        ).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    def _content_of(self, offer: Offer, placement_id: str) -> str | None:
        key = (offer.id, placement_id)
        if key not in self._content:
            fields = content_fields(offer, placement_id)
            self._content[key] = orjson.dumps(fields).decode() if fields else None
        return self._content[key]

    # -- batches ------------------------------------------------------------------------------

    def decide_batch(
        self, batch: pa.RecordBatch, exhausted: frozenset[str] = frozenset()
    ) -> pa.RecordBatch:
        """Decide every member of the audience in `batch` (rows of `schema.PROFILES`)."""
        counts: list[str | None] | None = None
        if schema.COUNTS in batch.schema.names:
            counts = batch.column(schema.COUNTS).to_pylist()
            batch = batch.drop_columns([schema.COUNTS])
        if batch.schema != schema.PROFILES:
            batch = normalise(batch)
        columns = [column.to_pylist() for column in batch.columns]
        return self.decide_rows(zip(*columns, strict=True), exhausted, counts)

    def decide_rows(
        self,
        rows: Iterable[Row],
        exhausted: frozenset[str],
        counts: Sequence[str | None] | None = None,
    ) -> pa.RecordBatch:
        """Decide rows of `schema.PROFILES`; `counts` holds each row's per-profile counts."""
        out = _Columns(self.plan.include_content)
        for i, row in enumerate(rows):
            try:
                profile = profile_of_row(*row)
            except (ValueError, TypeError) as exc:
                raise BadProfile(f"profile {row[0] or row[1]!r}: {exc}") from None
            if not self.member(profile):
                continue
            row_counts = counts[i] if counts is not None else None
            props = self.propositions(profile, exhausted, _counts(row_counts))
            keys = self.cap_keys(props) if self.caps.total_counters else []
            capped = orjson.dumps(keys).decode() if keys else None
            subject = orjson.dumps([row, row_counts]).decode() if keys else None
            self._add(out, profile, props, capped, subject)
        return out.batch(self._millis)

    def redecide(self, subject_json: str, exhausted: frozenset[str]) -> tuple[pa.RecordBatch, list]:
        """Decide one profile again (the coordinator, when a total cap ran out)."""
        row, counts = orjson.loads(subject_json)
        profile = profile_of_row(*row)
        props = self.propositions(profile, exhausted, _counts(counts))
        out = _Columns(self.plan.include_content)
        self._add(out, profile, props, None, None)
        return out.batch(self._millis), self.cap_keys(props)

    def _add(
        self,
        out: _Columns,
        profile: BatchProfile,
        props: list[Proposition],
        capped: str | None,
        subject: str | None,
    ) -> None:
        namespace, identity = profile.identity or (None, None)
        for prop in props:
            out.proposition_id.append(self.proposition_id(profile.profile_id, prop.index))
            out.profile_id.append(profile.profile_id)
            out.namespace.append(namespace)
            out.identity.append(identity)
            out.scope_index.append(prop.index)
            out.activity.append(prop.decision.id)
            out.placement.append(prop.placement.id)
            for rank, choice in enumerate(prop.options, start=1):
                out.offer_id.append(choice.offer.id)
                out.offer_rank.append(rank)
                out.offer_score.append(choice.score)
                if out.with_content:
                    out.offer_content.append(self._content_of(choice.offer, prop.placement.id))
            out.offsets.append(len(out.offer_id))
            fallback = prop.fallback
            out.fallback.append(fallback.id if fallback else None)
            out.fallback_content.append(
                self._content_of(fallback, prop.placement.id)
                if fallback is not None and out.with_content
                else None
            )
            out.capped.append(capped)
            out.subject.append(subject)
            capped = subject = None  # on the profile's first row only


class _Columns:
    """Output columns under construction (plain lists, turned into Arrow arrays at the end)."""

    def __init__(self, with_content: bool) -> None:
        self.with_content = with_content
        self.proposition_id: list[str] = []
        self.profile_id: list[str | None] = []
        self.namespace: list[str | None] = []
        self.identity: list[str | None] = []
        self.scope_index: list[int] = []
        self.activity: list[str] = []
        self.placement: list[str] = []
        self.offsets: list[int] = [0]
        self.offer_id: list[str] = []
        self.offer_rank: list[int] = []
        self.offer_score: list[float | None] = []
        self.offer_content: list[str | None] = []
        self.fallback: list[str | None] = []
        self.fallback_content: list[str | None] = []
        self.capped: list[str | None] = []
        self.subject: list[str | None] = []

    def batch(self, millis: int) -> pa.RecordBatch:
        n = len(self.proposition_id)
        content = (
            pa.array(self.offer_content, pa.string())
            if self.with_content
            else pa.nulls(len(self.offer_id), pa.string())
        )
        offers = pa.StructArray.from_arrays(
            [
                pa.array(self.offer_id, pa.string()),
                pa.array(self.offer_rank, pa.int32()),
                pa.array(self.offer_score, pa.float64()),
                content,
            ],
            fields=list(schema.OFFER),
        )
        arrays: list[Any] = [
            pa.array(self.proposition_id, pa.string()),
            pa.array([millis] * n, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            pa.array(self.profile_id, pa.string()),
            pa.array(self.namespace, pa.string()),
            pa.array(self.identity, pa.string()),
            pa.array(self.scope_index, pa.int32()),
            pa.array(self.activity, pa.string()),
            pa.array(self.placement, pa.string()),
            pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), offers),
            pa.array(self.fallback, pa.string()),
            pa.array(self.fallback_content, pa.string()),
            pa.array(self.capped, pa.string()),
            pa.array(self.subject, pa.string()),
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema.WORKER_DECISIONS)


def _counts(text: str | None) -> dict[str, int]:
    return orjson.loads(text) if text else {}


def public(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A worker's batch without the coordinator's columns."""
    return pa.RecordBatch.from_arrays(
        batch.columns[: len(schema.DECISIONS)], schema=schema.DECISIONS
    )
