"""Batch jobs as a service: accept a workload, run it in the background, report its status.

Submitting validates what can be known at once (the scopes against the current library, the
audience against the profile store) so a client gets a 422 instead of a job that fails later.
Jobs are kept by a job store (`ports.JobStore`; the composition root wires the database's); a
background thread of each server that runs jobs (`NEXTOFFER_BATCH_RUN_JOBS`) claims the oldest
queued one, runs it with the configured executor and renews its lease as it goes. A job whose
runner died is queued again once its lease has run out (`NEXTOFFER_BATCH_LEASE_SECONDS`), by
whichever node looks first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
from nextoffer.errors import NextofferError, NotFound, RuleViolation
from nextoffer.records.batch_jobs import Job, JobRequest, JobStatus
from nextoffer.telemetry import NO_TELEMETRY, Telemetry
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import PointerFor, proposition_request_pointer

log = logging.getLogger("nextoffer.batch")


@dataclass(frozen=True, slots=True)
class Library:
    """A sandbox's library at one revision: its documents (for workers) and its Catalog."""

    docs: dict
    revision: int
    catalog: Catalog
    sandbox_id: str


def library_for(
    decisions: DecisionService,
    tenant: Tenant,
    scopes: Sequence[ScopeRequest],
    pointer: PointerFor,
) -> Library:
    """The tenant's current library, after checking every scope can be decided (else 422)."""
    sandbox, catalog = decisions.decidable(tenant, scopes, pointer)
    snapshot = decisions.catalogs.snapshots.get(sandbox.pk, max_age=0)
    return Library(plain_docs(snapshot.by_kind), snapshot.revision, catalog, sandbox.sandbox_id)


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
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

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
        """Stop the background thread; a job it was running goes back to the queue."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="nextoffer-batch", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pending()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("batch worker: could not look for jobs")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def run_pending(self) -> int:
        """Requeue abandoned jobs, then run queued jobs until none is left; returns how many."""
        self.jobs.requeue_abandoned(self.settings.batch_lease_seconds * 1000)
        ran = 0
        while not self._stopping.is_set():
            job = self.jobs.claim(self.owner)
            if job is None:
                break
            self.run(job)
            ran += 1
        return ran

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
