"""Trained ranking models, versioned, and training leases, in the library's database.

A model version is one row written in one transaction once training has finished, so a
training killed half-way leaves the previous version serving. A lease is a row naming its
holder and expiry: taking it is one conditional write, so two nodes never train one strategy
at once, and a crashed trainer's lease simply expires.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from nextoffer.ranking import AutoModel
from nextoffer.store.database import Database
from nextoffer.store.decision_event_tables import decision_events
from nextoffer.store.profile_tables import profile_events
from nextoffer.store.tables import JsonDocument, library_objects, metadata

ranking_models = Table(
    "ranking_models",
    metadata,
    Column("sandbox_pk", Integer, ForeignKey("sandboxes.pk"), primary_key=True),
    Column("strategy_id", String(256), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("trained_at", String(40), nullable=False),
    Column("state", JsonDocument, nullable=False),
)

training_leases = Table(
    "training_leases",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires", Float, nullable=False),
)


class RankingModelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def latest(self, sandbox_pk: int) -> dict[str, AutoModel]:
        """The newest version of every strategy's model in the sandbox."""
        newest = (
            select(ranking_models.c.strategy_id, func.max(ranking_models.c.version).label("v"))
            .where(ranking_models.c.sandbox_pk == sandbox_pk)
            .group_by(ranking_models.c.strategy_id)
            .subquery()
        )
        query = select(ranking_models.c.strategy_id, ranking_models.c.state).join(
            newest,
            and_(
                ranking_models.c.strategy_id == newest.c.strategy_id,
                ranking_models.c.version == newest.c.v,
            ),
        )
        with self.db.read() as conn:
            rows = conn.execute(query.where(ranking_models.c.sandbox_pk == sandbox_pk)).all()
        return {r.strategy_id: AutoModel.from_state(r.strategy_id, r.state) for r in rows}

    def latest_version(self, sandbox_pk: int, strategy_id: str) -> int:
        with self.db.read() as conn:
            found = conn.execute(
                select(func.max(ranking_models.c.version)).where(
                    ranking_models.c.sandbox_pk == sandbox_pk,
                    ranking_models.c.strategy_id == strategy_id,
                )
            ).scalar()
        return int(found or 0)

    def save(self, sandbox_pk: int, model: AutoModel) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(ranking_models).values(
                    sandbox_pk=sandbox_pk,
                    strategy_id=model.strategy_id,
                    version=model.version,
                    trained_at=model.trained_at,
                    state=model.as_state(),
                )
            )
            # keep the last few versions only: what serves, and what served just before
            conn.execute(
                delete(ranking_models).where(
                    ranking_models.c.sandbox_pk == sandbox_pk,
                    ranking_models.c.strategy_id == model.strategy_id,
                    ranking_models.c.version <= model.version - 5,
                )
            )

    # -- leases --------------------------------------------------------------------------------

    def acquire(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take the lease `name` unless another holder has it and it has not expired."""
        with self.db.write() as conn:
            taken = conn.execute(
                update(training_leases)
                .where(
                    training_leases.c.name == name,
                    (training_leases.c.holder == holder) | (training_leases.c.expires < now),
                )
                .values(holder=holder, expires=now + ttl)
            ).rowcount
            if taken:
                return True
        try:
            with self.db.write() as conn:
                conn.execute(
                    insert(training_leases).values(name=name, holder=holder, expires=now + ttl)
                )
            return True
        except IntegrityError:
            return False

    def release(self, name: str, holder: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                delete(training_leases).where(
                    training_leases.c.name == name, training_leases.c.holder == holder
                )
            )

    # -- what training reads ------------------------------------------------------------------

    def strategies(self) -> list[tuple[int, str, Mapping[str, Any]]]:
        """(sandbox pk, id, document) of every ranking strategy of every sandbox."""
        query = select(
            library_objects.c.sandbox_pk, library_objects.c.id, library_objects.c.doc
        ).where(library_objects.c.kind == "ranking-strategy")
        with self.db.read() as conn:
            return [(r.sandbox_pk, r.id, r.doc) for r in conn.execute(query)]

    def decided_by(
        self, sandbox_pk: int, strategy_id: str, since: str, until: str
    ) -> dict[str, set[str]]:
        """Proposition id -> the offers the strategy's model ranked in it, in the window."""
        query = select(decision_events.c.proposition_id, decision_events.c.offers).where(
            decision_events.c.sandbox_pk == sandbox_pk,
            decision_events.c.timestamp >= since,
            decision_events.c.timestamp < until,
        )
        out: dict[str, set[str]] = {}
        with self.db.read() as conn:
            for row in conn.execute(query.execution_options(yield_per=5000)):
                offers = {
                    o[0] for o in row.offers if len(o) > 4 and o[4] and o[4][0] == strategy_id
                }
                if offers:
                    out[row.proposition_id] = offers
        return out

    def feedback(self, sandbox_pk: int, since: str, until: str) -> Iterator[Mapping[str, Any]]:
        """The experience events kept in the window (displays, clicks, any conversion)."""
        query = select(profile_events.c.event).where(
            profile_events.c.sandbox_pk == sandbox_pk,
            profile_events.c.timestamp >= since,
            profile_events.c.timestamp < until,
        )
        with self.db.read() as conn:
            for row in conn.execute(query.execution_options(yield_per=5000)):
                yield orjson.loads(row.event)
