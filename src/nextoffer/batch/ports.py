"""What the batch service needs from the world, as protocols the store implements structurally
(`store.batch_jobs.JobStore`) without importing this package; the records are `records.batch_jobs`.
"""

from __future__ import annotations

from typing import Any, Protocol

from nextoffer.records.batch_jobs import Job, JobStatus


class JobStore(Protocol):
    """Batch jobs kept where every node sees them; each status change is conditional, so two
    nodes never both run a job and a runner whose lease ran out notices."""

    def create(self, job: Job) -> None: ...

    def get(
        self, job_id: str, org: str | None = None, sandbox: str | None = None
    ) -> Job | None: ...

    def claim(self, owner: str, per_tenant: int | None = None) -> Job | None:
        """Take the next queued job for `owner` (then PROCESSING), fairly across tenants and at
        most `per_tenant` running for one tenant, or None."""
        ...

    def unfinished(self, org: str, sandbox: str) -> int:
        """How many of the tenant's jobs are queued or running."""
        ...

    def outputs_finished_before(self, before_ms: int, limit: int = 500) -> list[Job]:
        """COMPLETED jobs that finished before `before_ms` and still have an output."""
        ...

    def expire_output(self, job: Job, detail: dict[str, Any]) -> bool:
        """Forget the job's output (False when another node did first)."""
        ...

    def move(self, job: Job, target: JobStatus, *, owner: str | None = None, **values: Any) -> bool:
        """Change the job's status if it still is what `job` says (and still `owner`'s)."""
        ...

    def heartbeat(self, job: Job, owner: str, detail: dict[str, Any] | None = None) -> bool:
        """Renew the lease; False when the job is no longer `owner`'s."""
        ...

    def requeue_abandoned(self, lease_ms: int) -> list[str]:
        """Queue again (or fail) jobs whose runner stopped renewing its lease; their ids."""
        ...
