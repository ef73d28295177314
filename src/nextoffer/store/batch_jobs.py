"""Batch jobs in the database, so they survive restarts and any node can run them.

Every status change is a conditional UPDATE on (id, expected status[, owner]): two nodes can
never both claim a job, and a runner whose job was taken back (lease expired) notices on its
next heartbeat.

Claims are fair across tenants (org and sandbox): the next job is the oldest queued job of the
tenant with the fewest running jobs, then the one served longest ago (round robin), so one
tenant's queue of big jobs never holds another's small job behind all of them.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from nextoffer.records.batch_jobs import MAX_ATTEMPTS, Job, JobRequest, JobStatus, check_transition
from nextoffer.store.database import Database
from nextoffer.store.tables import JsonDocument, metadata

batch_jobs = Table(
    "batch_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org", String(256), nullable=False),
    Column("sandbox", String(256), nullable=False),
    Column("container_id", String(256)),
    Column("status", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("request", JsonDocument, nullable=False),
    Column("decided_at_ms", BigInteger),
    Column("detail", JsonDocument),
    Column("summary", JsonDocument),
    Column("output", String(2048)),
    Column("attempts", Integer, nullable=False),
    Column("owner", String(64)),
    Column("heartbeat_ms", BigInteger),
    Index("ix_batch_jobs_tenant", "org", "sandbox", "created_ms"),
    Index("ix_batch_jobs_status", "status", "created_ms"),
)


RUNNING = (str(JobStatus.PROCESSING), str(JobStatus.INGESTING))
UNFINISHED = (str(JobStatus.QUEUED), *RUNNING)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        org=row.org,
        sandbox=row.sandbox,
        status=JobStatus(row.status),
        created_ms=row.created_ms,
        request=JobRequest.from_dict(row.request),
        container_id=row.container_id,
        decided_at_ms=row.decided_at_ms,
        detail=row.detail,
        summary=row.summary,
        output=row.output,
        attempts=row.attempts,
        updated_ms=row.heartbeat_ms,
    )


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, job: Job) -> None:
        with self.db.write() as conn:
            conn.execute(
                insert(batch_jobs).values(
                    id=job.id,
                    org=job.org,
                    sandbox=job.sandbox,
                    container_id=job.container_id,
                    status=str(job.status),
                    created_ms=job.created_ms,
                    request=job.request.as_dict(),
                    attempts=0,
                )
            )

    def count_by_state(self) -> dict[str, int]:
        """Jobs of every tenant in each state (`JobStatus`), for the `nextoffer_batch_jobs_in_state`
        gauge: one GROUP BY over the status index, whichever node asks."""
        query = select(batch_jobs.c.status, func.count()).group_by(batch_jobs.c.status)
        with self.db.read() as conn:
            counts = {str(status): int(n) for status, n in conn.execute(query)}
        return {str(state): counts.get(str(state), 0) for state in JobStatus}

    def get(self, job_id: str, org: str | None = None, sandbox: str | None = None) -> Job | None:
        query = select(batch_jobs).where(batch_jobs.c.id == job_id)
        if org is not None:
            query = query.where(batch_jobs.c.org == org, batch_jobs.c.sandbox == sandbox)
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return _job(row) if row is not None else None

    def claim(self, owner: str, per_tenant: int | None = None) -> Job | None:
        """Take the next queued job, fairly across tenants (see the module), for `owner`
        (PROCESSING); None when none waits or every waiting tenant already runs `per_tenant`."""
        for _ in range(5):
            with self.db.read() as conn:
                picked = self._next(conn, per_tenant)
            if picked is None:
                return None
            job_id, org, sandbox = picked
            now = _now_ms()
            where = [batch_jobs.c.id == job_id, batch_jobs.c.status == str(JobStatus.QUEUED)]
            if per_tenant is not None:  # checked in the UPDATE too: other nodes claim as well
                where.append(_running_count(org, sandbox) < per_tenant)
            with self.db.write() as conn:
                taken = conn.execute(
                    update(batch_jobs)
                    .where(*where)
                    .values(
                        status=str(JobStatus.PROCESSING),
                        owner=owner,
                        heartbeat_ms=now,
                        attempts=batch_jobs.c.attempts + 1,
                        detail={"batchID": job_id},
                    )
                ).rowcount
                if taken:
                    conn.execute(
                        update(batch_jobs)
                        .where(batch_jobs.c.id == job_id, batch_jobs.c.decided_at_ms.is_(None))
                        .values(decided_at_ms=now)
                    )
            if taken:
                return self.get(job_id)
        return None  # other nodes keep taking them first: leave it to them

    @staticmethod
    def _next(conn: Any, per_tenant: int | None) -> tuple[str, str, str] | None:
        """(job id, org, sandbox) of the job to claim next, or None."""
        tenant = (batch_jobs.c.org, batch_jobs.c.sandbox)
        waiting = conn.execute(
            select(*tenant, func.min(batch_jobs.c.created_ms))
            .where(batch_jobs.c.status == str(JobStatus.QUEUED))
            .group_by(*tenant)
        ).all()
        if not waiting:
            return None
        running = dict(
            ((r.org, r.sandbox), r[2])
            for r in conn.execute(
                select(*tenant, func.count())
                .where(batch_jobs.c.status.in_(RUNNING))
                .group_by(*tenant)
            )
        )
        served = dict(
            ((r.org, r.sandbox), r[2] or 0)
            for r in conn.execute(
                select(*tenant, func.max(batch_jobs.c.decided_at_ms))
                .where(batch_jobs.c.org.in_(sorted({r.org for r in waiting})))
                .group_by(*tenant)
            )
        )
        order = sorted(
            (
                running.get((r.org, r.sandbox), 0),
                served.get((r.org, r.sandbox), 0),
                r[2],
                r.org,
                r.sandbox,
            )
            for r in waiting
        )
        for busy, _served, _oldest, org, sandbox in order:
            if per_tenant is not None and busy >= per_tenant:
                continue
            row = conn.execute(
                select(batch_jobs.c.id)
                .where(
                    batch_jobs.c.status == str(JobStatus.QUEUED),
                    batch_jobs.c.org == org,
                    batch_jobs.c.sandbox == sandbox,
                )
                .order_by(batch_jobs.c.created_ms, batch_jobs.c.id)
                .limit(1)
            ).first()
            if row is not None:
                return row.id, org, sandbox
        return None

    def unfinished(self, org: str, sandbox: str) -> int:
        """The tenant's jobs queued or running (what its queue limit counts)."""
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        batch_jobs.c.org == org,
                        batch_jobs.c.sandbox == sandbox,
                        batch_jobs.c.status.in_(UNFINISHED),
                    )
                ).scalar_one()
            )

    def outputs_finished_before(self, before_ms: int, limit: int = 500) -> list[Job]:
        """COMPLETED jobs that still have an output and finished before `before_ms`."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(batch_jobs)
                .where(
                    batch_jobs.c.status == str(JobStatus.COMPLETED),
                    batch_jobs.c.output.is_not(None),
                    batch_jobs.c.heartbeat_ms < before_ms,
                )
                .order_by(batch_jobs.c.heartbeat_ms)
                .limit(limit)
            ).all()
        return [_job(r) for r in rows]

    def expire_output(self, job: Job, detail: dict[str, Any]) -> bool:
        """Forget a COMPLETED job's output (its file is being deleted); False when another
        node did first."""
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    update(batch_jobs)
                    .where(
                        batch_jobs.c.id == job.id,
                        batch_jobs.c.status == str(JobStatus.COMPLETED),
                        batch_jobs.c.output == job.output,
                    )
                    .values(output=None, detail=detail)
                ).rowcount
            )

    def move(
        self,
        job: Job,
        target: JobStatus,
        *,
        owner: str | None = None,
        **values: Any,
    ) -> bool:
        """Change the job's status if it still is what `job` says (and still ours)."""
        check_transition(job.status, target)
        where = [batch_jobs.c.id == job.id, batch_jobs.c.status == str(job.status)]
        if owner is not None:
            where.append(batch_jobs.c.owner == owner)
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    update(batch_jobs)
                    .where(*where)
                    .values(status=str(target), heartbeat_ms=_now_ms(), **values)
                ).rowcount
            )

    def heartbeat(self, job: Job, owner: str, detail: dict[str, Any] | None = None) -> bool:
        """Renew the lease; False when the job is no longer ours (then stop working on it)."""
        values: dict[str, Any] = {"heartbeat_ms": _now_ms()}
        if detail is not None:
            values["detail"] = detail
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    update(batch_jobs)
                    .where(
                        batch_jobs.c.id == job.id,
                        batch_jobs.c.owner == owner,
                        batch_jobs.c.status == str(job.status),
                    )
                    .values(**values)
                ).rowcount
            )

    def requeue_abandoned(self, lease_ms: int) -> list[str]:
        """Jobs whose runner stopped renewing its lease: queued again, or ERROR after
        `MAX_ATTEMPTS` runs. Returns their ids."""
        cutoff = _now_ms() - lease_ms
        stale = and_(
            batch_jobs.c.status.in_(RUNNING),
            or_(batch_jobs.c.heartbeat_ms.is_(None), batch_jobs.c.heartbeat_ms < cutoff),
        )
        with self.db.write() as conn:
            rows = conn.execute(
                select(batch_jobs.c.id, batch_jobs.c.status, batch_jobs.c.attempts).where(stale)
            ).all()
            for row in rows:
                again = row.attempts < MAX_ATTEMPTS
                conn.execute(
                    update(batch_jobs)
                    .where(batch_jobs.c.id == row.id, batch_jobs.c.status == row.status)
                    .values(
                        status=str(JobStatus.QUEUED if again else JobStatus.ERROR),
                        owner=None,
                        detail=_abandoned(row.attempts, again),
                    )
                )
        return [row.id for row in rows]


def _running_count(org: str, sandbox: str) -> Any:
    """A scalar subquery: how many of the tenant's jobs run now."""
    other = batch_jobs.alias("running")
    return (
        select(func.count())
        .select_from(other)
        .where(other.c.org == org, other.c.sandbox == sandbox, other.c.status.in_(RUNNING))
        .scalar_subquery()
    )


def _abandoned(attempts: int, again: bool) -> dict[str, Any]:
    if again:
        return {"message": f"its runner stopped during attempt {attempts}; queued again"}
    return {
        "code": "abandoned",
        "message": f"its runner stopped during each of {attempts} attempts; submit it again",
    }
