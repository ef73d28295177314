"""Batch jobs as a service: accept a workload, run it in the background, report its status.

Submitting validates what can be known at once (the scopes against the current library, the
audience against the profile store) so a client gets a 422 instead of a job that fails later,
and a tenant with `NEXTOFFER_BATCH_QUEUE_PER_TENANT` jobs unfinished gets a 429. Jobs are kept
by a job store (`ports.JobStore`; the composition root wires the database's); on each server
that runs jobs (`NEXTOFFER_BATCH_RUN_JOBS`), `NEXTOFFER_BATCH_CONCURRENT_JOBS` threads claim
queued jobs fairly across tenants, at most `NEXTOFFER_BATCH_JOBS_PER_TENANT` of one tenant at
once (issue 15: a 1-profile job waited 26 s behind another tenant's three big ones), run each
with the configured executor and renew its lease as they go. A job whose runner died is queued
again once its lease has run out (`NEXTOFFER_BATCH_LEASE_SECONDS`), by whichever node looks
first. Outputs older than `NEXTOFFER_BATCH_OUTPUT_RETENTION_HOURS` are deleted by the same
threads, and the job's status says so.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from nextoffer.batch.decider import BadProfile
from nextoffer.batch.executors import executor_named
from nextoffer.batch.output import OutputError
from nextoffer.batch.plan import BatchPlan, plain_docs
from nextoffer.batch.ports import JobStore
from nextoffer.batch.runner import BatchCancelled, Summary, run_batch
from nextoffer.batch.sources import (
    BatchInputError,
    ProfileSource,
    ProfileStoreLike,
    StoreSource,
    check_audience,
)
from nextoffer.config import Settings
from nextoffer.decisioning.capping_gate import CappingGate
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.engine import Catalog, ScopeRequest
from nextoffer.errors import NextofferError, NotFound, RateLimited, RuleViolation
from nextoffer.records.batch_jobs import OUTPUT_EXPIRED, Job, JobRequest, JobStatus
from nextoffer.telemetry import NO_TELEMETRY, Telemetry
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import PointerFor, proposition_request_pointer

log = logging.getLogger("nextoffer.batch")

QUEUE_RETRY_SECONDS = 60
"""`Retry-After` of a submission refused because the tenant's queue is full."""
CLEANUP_EVERY_SECONDS = 60.0
"""How often a running node looks for outputs past their retention."""


@dataclass(frozen=True, slots=True)
class Library:
    """A sandbox's library at one revision: its documents (for workers) and its Catalog."""

    docs: dict
    revision: int
    catalog: Catalog
    sandbox_id: str
    models: dict = field(default_factory=dict)
    """The trained ranking models serving now, as stored states by strategy id."""


def library_for(
    decisions: DecisionService,
    tenant: Tenant,
    scopes: Sequence[ScopeRequest],
    pointer: PointerFor,
) -> Library:
    """The tenant's current library, after checking every scope can be decided (else 422)."""
    sandbox, catalog = decisions.decidable(tenant, scopes, pointer)
    snapshot = decisions.catalogs.snapshots.get(sandbox.pk, max_age=0)
    models = decisions.models.get(sandbox.pk) if decisions.models is not None else {}
    return Library(
        plain_docs(snapshot.by_kind),
        snapshot.revision,
        catalog,
        sandbox.sandbox_id,
        {sid: model.as_state() for sid, model in models.items()},
    )


def _component(name: str) -> str:
    """A tenant name as one safe path component (no separators, no dots)."""
    return quote(name, safe="@").replace(".", "%2E") or "%00"


class BatchService:
    def __init__(
        self,
        jobs: JobStore,
        decisions: DecisionService,
        settings: Settings,
        *,
        profiles: ProfileStoreLike | None = None,
        capping: CappingGate | None = None,
        poll_seconds: float = 2.0,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.jobs = jobs
        self.telemetry = telemetry
        self.decisions = decisions
        self.settings = settings
        self.profiles = profiles
        """The profile store jobs read audiences from (`ProfileStore.iter_profiles`)."""
        self.capping = capping
        """The online decisions' capping gate: total caps start from its counters, and a
        job's proposals are added to them when it is published."""
        self.owner = uuid.uuid4().hex
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._claiming = threading.Lock()
        self._cleaned_at = float("-inf")

    # -- accepting and reporting ---------------------------------------------------------------

    def source(self, tenant: Tenant, catalog: Catalog) -> ProfileSource:
        if self.profiles is None:
            raise RuleViolation.at(
                "this server has no profile store to read audiences from",
                pointer="/xdm:segmentIds/0",
                code="no-profile-store",
            )
        return StoreSource(self.profiles, tenant, with_events=catalog.reads_events)

    def submit(
        self,
        tenant: Tenant,
        request: JobRequest,
        *,
        container_id: str | None = None,
    ) -> Job:
        """Validate and queue a job (422 for unknown scopes, unknown or empty audiences)."""
        queued = self.jobs.unfinished(tenant.org, tenant.sandbox)
        if queued >= self.settings.batch_queue_per_tenant:
            raise RateLimited.at(
                f"this sandbox already has {queued} jobs queued or running, its limit "
                f"(NEXTOFFER_BATCH_QUEUE_PER_TENANT); submit again once one has finished",
                code="batch-queue-full",
                limit="batchQueuePerTenant",
                retryAfter=QUEUE_RETRY_SECONDS,
            )
        scopes = [ScopeRequest(a, p, n) for a, p, n in request.scopes]
        library = library_for(self.decisions, tenant, scopes, proposition_request_pointer)
        try:
            check_audience(self.source(tenant, library.catalog), request.audience)
        except BatchInputError as exc:
            raise RuleViolation.at(str(exc), pointer="/xdm:segmentIds/0", code=exc.code) from None
        job = Job(
            id=BatchPlan.new_job_id(),
            org=tenant.org,
            sandbox=tenant.sandbox,
            status=JobStatus.QUEUED,
            created_ms=int(time.time() * 1000),
            request=request,
            container_id=container_id,
        )
        self.jobs.create(job)
        self.telemetry.batch_job(JobStatus.QUEUED.lower())
        if self.settings.batch_run_jobs:
            self._ensure_thread()
            self._wake.set()
        return job

    def get(self, tenant: Tenant, job_id: str, container_id: str | None = None) -> Job:
        """The tenant's job; through the ODE form (`container_id`), only a job submitted to
        that container (another container's job does not exist there: 404)."""
        job = self.jobs.get(job_id, tenant.org, tenant.sandbox)
        if job is None or (container_id is not None and job.container_id != container_id):
            where = f" in container {container_id}" if container_id is not None else ""
            raise NotFound.at(f"there is no batch job {job_id}{where}", parameter="id")
        return job

    def output_path(self, job: Job) -> Path:
        ext = "jsonl" if job.request.output_format == "jsonl" else "parquet"
        return (
            Path(self.settings.batch_output_dir)
            / _component(job.org)
            / _component(job.sandbox)
            / job.request.dataset_id
            / f"{job.id}.{ext}"
        )

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """At server start: look for jobs left queued or abandoned, and run them."""
        if not self.settings.batch_run_jobs:
            return
        self._stopping.clear()
        self._ensure_thread()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background threads; a job they were running goes back to the queue."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._stopping.clear()
            while len(self._threads) < self.settings.batch_concurrent_jobs:
                index = len(self._threads)
                thread = threading.Thread(
                    target=self._loop,
                    args=(index,),
                    name=f"nextoffer-batch-{index + 1}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _loop(self, index: int = 0) -> None:
        """A runner thread; the first also keeps house (abandoned jobs, expired outputs), so
        more threads do not mean more polling writes."""
        while not self._stopping.is_set():
            try:
                if index == 0:
                    self.run_pending()
                    if time.monotonic() - self._cleaned_at >= CLEANUP_EVERY_SECONDS:
                        self._cleaned_at = time.monotonic()
                        self.expire_outputs()
                else:
                    self._drain()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("batch worker: could not look for jobs")
            self._wake.wait(self.poll_seconds)  # a set wakes every waiting thread at once,
            self._wake.clear()  # so whoever clears it first leaves no waiter behind

    def run_pending(self) -> list[str]:
        """Requeue abandoned jobs, then run queued jobs until none is left (or this tenant's
        share is taken); returns the ids of the jobs run, in the order they started."""
        self.jobs.requeue_abandoned(self.settings.batch_lease_seconds * 1000)
        return self._drain()

    def _drain(self) -> list[str]:
        ran = []
        while not self._stopping.is_set():
            job = self.claim()
            if job is None:
                break
            ran.append(job.id)
            self.run(job)
        return ran

    def claim(self) -> Job | None:
        """The next job for this node, fairly across tenants (`JobStore.claim`); one thread
        of the node claims at a time, so its own threads never exceed a tenant's share."""
        with self._claiming:
            return self.jobs.claim(self.owner, per_tenant=self.settings.batch_jobs_per_tenant)

    def expire_outputs(self, now_ms: int | None = None) -> list[str]:
        """Delete the outputs of jobs finished more than the retention ago; their status then
        says the output expired. Returns their ids (none when retention is 0: kept forever)."""
        hours = self.settings.batch_output_retention_hours
        if not hours:
            return []
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        expired = []
        for job in self.jobs.outputs_finished_before(now_ms - hours * 3_600_000):
            detail = {
                "code": OUTPUT_EXPIRED,
                "message": f"the output was deleted {hours} h after the job finished "
                "(NEXTOFFER_BATCH_OUTPUT_RETENTION_HOURS); submit the job again",
                "expiredAt": now_ms,
            }
            if self.jobs.expire_output(job, detail) and job.output:
                Path(job.output).unlink(missing_ok=True)
                expired.append(job.id)
        return expired

    def run(self, job: Job) -> None:
        """Run a claimed (PROCESSING) job to COMPLETED or ERROR; never raises for its errors."""
        lost = threading.Event()
        self.telemetry.batch_job(JobStatus.PROCESSING.lower())
        try:
            summary = self._execute(job, lost)
        except BatchCancelled:
            if not lost.is_set():  # stopping: let the next start run it again
                self.jobs.move(job, JobStatus.QUEUED, owner=self.owner, detail=None)
                self.telemetry.batch_job("requeued")
            return
        except (NextofferError, BatchInputError, BadProfile, OutputError) as exc:
            self._fail(job, getattr(exc, "code", None) or "bad-input", _message(exc))
            return
        except Exception as exc:  # recorded on the job, which a client reads
            log.exception("batch job %s failed", job.id)
            self._fail(job, "internal-error", f"the job failed: {type(exc).__name__}: {exc}")
            return
        ingesting = self.jobs.get(job.id)
        if ingesting is not None:
            self.jobs.move(
                ingesting,
                JobStatus.COMPLETED,
                owner=self.owner,
                detail=None,
                summary=summary.as_dict(),
                output=summary.output,
            )
            self.telemetry.batch_job(JobStatus.COMPLETED.lower())

    def _fail(self, job: Job, code: str, message: str) -> None:
        current = self.jobs.get(job.id)
        if current is not None and not current.finished:
            self.jobs.move(
                current,
                JobStatus.ERROR,
                owner=self.owner,
                detail={"code": code, "message": message},
            )
            self.telemetry.batch_job(JobStatus.ERROR.lower())

    def _execute(self, job: Job, lost: threading.Event) -> Summary:
        tenant = Tenant(job.org, job.sandbox)
        request = job.request
        scopes = tuple(ScopeRequest(a, p, n) for a, p, n in request.scopes)
        library = library_for(self.decisions, tenant, scopes, proposition_request_pointer)
        decided_at = datetime.fromtimestamp((job.decided_at_ms or job.created_ms) / 1000, UTC)
        plan = BatchPlan(
            job_id=job.id,
            docs=library.docs,
            revision=library.revision,
            audience=request.audience,
            scopes=scopes,
            now=decided_at,
            seed=request.seed,
            include_content=request.include_content,
            sandbox_id=library.sandbox_id,
            models=library.models,
        )
        source = self.source(tenant, library.catalog)
        executor = executor_named(
            self.settings.batch_executor,
            workers=self.settings.batch_workers,
            ray_address=self.settings.batch_ray_address,
        )
        last = [time.monotonic()]

        def progress(profiles: int, rows: int) -> None:
            if time.monotonic() - last[0] < 2.0:
                return
            last[0] = time.monotonic()
            detail = {"batchID": job.id, "profiles": profiles, "rows": rows}
            if not self.jobs.heartbeat(job, self.owner, detail):
                lost.set()

        def cancelled() -> bool:
            return self._stopping.is_set() or lost.is_set()

        def ingest(summary: Summary) -> None:
            if cancelled() or not self.jobs.move(job, JobStatus.INGESTING, owner=self.owner):
                lost.set()
                raise BatchCancelled("the job was taken back before it could be published")

        return run_batch(
            plan,
            source,
            executor,
            self.output_path(job),
            output_format=request.output_format,
            counter_store=self.capping.store if self.capping is not None else None,
            progress=progress,
            cancelled=cancelled,
            before_publish=ingest,
        )


def _message(exc: BaseException) -> str:
    if isinstance(exc, NextofferError):
        parts = [exc.detail, *(e.message for e in exc.errors if e.message != exc.detail)]
        return "; ".join(parts)
    return str(exc)
