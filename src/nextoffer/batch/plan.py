"""What one batch job decides: everything a worker needs, as plain picklable data.

A worker (a local process or a Ray actor) receives the plan once and builds its Catalog from
the library documents in it, once; then it decides batch after batch.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nextoffer.engine import ScopeRequest
from nextoffer.vocabulary import MEMBER_STATUSES

Doc = Mapping[str, Any]


@dataclass(frozen=True)
class BatchPlan:
    job_id: str
    """A UUID; proposition ids are derived from it, the profile and the scope."""
    docs: Mapping[str, Mapping[str, Doc]]
    """The sandbox's library, `kind -> id -> read model`, at `revision`."""
    revision: int
    audience: str
    scopes: tuple[ScopeRequest, ...]
    now: datetime
    """The instant every decision of the job is made at (its timestamp)."""
    seed: int
    include_content: bool = False
    statuses: tuple[str, ...] = tuple(sorted(MEMBER_STATUSES))
    batch_size: int = 2048
    exhausted: frozenset[str] = field(default_factory=frozenset)
    """Total caps already spent when the job starts."""
    sandbox_id: str = ""
    """The sandbox whose capping counters the job reads and moves (keys are per sandbox)."""
    stored_profiles: bool = False
    """Profiles come from the profile store: per-profile counters are the stored profile's
    (`pid:<id>`), else the primary identity's, as online (`batch/subjects.py`: `subject_of`)."""
    models: Mapping[str, Any] = field(default_factory=dict)
    """The ranking models serving when the job starts, as stored states by strategy id: batch
    decisions rank by the same models as online ones."""

    @staticmethod
    def new_seed() -> int:
        return secrets.randbits(63)

    @staticmethod
    def new_job_id() -> str:
        return str(uuid.uuid4())


def plain_docs(by_kind: Mapping[str, Mapping[str, Doc]]) -> dict[str, dict[str, Doc]]:
    """A snapshot's documents as plain dicts (read-only mapping views do not pickle)."""
    return {kind: {i: _plain(d) for i, d in docs.items()} for kind, docs in by_kind.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
