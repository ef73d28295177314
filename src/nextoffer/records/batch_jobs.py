"""A batch job (an Adobe "workload") and the one path its status may take.

QUEUED -> PROCESSING -> INGESTING -> COMPLETED, or ERROR from any state before COMPLETED.
A job whose runner vanished (the server stopped, its lease ran out) goes back from PROCESSING
or INGESTING to QUEUED and runs again from the start: nothing was published before INGESTING
ends, and a rerun decides the same rows (same instant, same seed, same proposition ids).
After `MAX_ATTEMPTS` it goes to ERROR instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_ATTEMPTS = 3
OUTPUT_EXPIRED = "output-expired"
"""`ode:statusDetail.code` of a COMPLETED job whose output was deleted after its retention."""


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    INGESTING = "INGESTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.ERROR}),
    JobStatus.PROCESSING: frozenset({JobStatus.INGESTING, JobStatus.ERROR, JobStatus.QUEUED}),
    JobStatus.INGESTING: frozenset({JobStatus.COMPLETED, JobStatus.ERROR, JobStatus.QUEUED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.ERROR: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def check_transition(current: JobStatus, target: JobStatus) -> None:
    if target not in NEXT[current]:
        raise IllegalTransition(f"a {current} job cannot become {target}")


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What the client asked for (the workload body), as stored with the job."""

    audience: str
    dataset_id: str
    scopes: tuple[tuple[str, str, int | None], ...]
    """(activity id, placement id, item count or None)."""
    include_content: bool = False
    seed: int = 0
    output_format: str = "parquet"

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "dataSetId": self.dataset_id,
            "scopes": [list(s) for s in self.scopes],
            "includeContent": self.include_content,
            "seed": self.seed,
            "format": self.output_format,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> JobRequest:
        return cls(
            audience=doc["audience"],
            dataset_id=doc["dataSetId"],
            scopes=tuple((s[0], s[1], s[2]) for s in doc["scopes"]),
            include_content=bool(doc.get("includeContent", False)),
            seed=int(doc.get("seed", 0)),
            output_format=doc.get("format", "parquet"),
        )


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    org: str
    sandbox: str
    status: JobStatus
    created_ms: int
    request: JobRequest
    container_id: str | None = None
    decided_at_ms: int | None = None
    """The instant every decision of the job is made at, fixed when it first runs."""
    detail: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    output: str | None = None
    attempts: int = 0
    updated_ms: int | None = None
    """When its status last changed or its runner last reported: a finished job's end, from
    which its output's retention counts."""

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.COMPLETED, JobStatus.ERROR)


def status_document(job: Job) -> dict[str, Any]:
    """The workload as Adobe's create and status responses show it, plus nextoffer's extras."""
    out: dict[str, Any] = {"@id": job.id, "xdm:imsOrgId": job.org}
    if job.container_id is not None:
        out["xdm:containerId"] = job.container_id
    out["ode:createDate"] = job.created_ms
    out["ode:status"] = str(job.status)
    if job.detail:
        out["ode:statusDetail"] = job.detail
    if job.status is JobStatus.COMPLETED and job.output is not None:
        # the file within the dataset, never the server's own directories (issue 15)
        file_name = job.output.replace("\\", "/").rsplit("/", 1)[-1]
        out["nextoffer:output"] = {
            "dataSetId": job.request.dataset_id,
            "format": job.request.output_format,
            "path": f"{job.request.dataset_id}/{file_name}",
        }
    elif job.status is JobStatus.COMPLETED and (job.detail or {}).get("code") == OUTPUT_EXPIRED:
        out["nextoffer:output"] = {
            "dataSetId": job.request.dataset_id,
            "format": job.request.output_format,
            "expired": True,
        }
    if job.summary is not None:
        out["nextoffer:summary"] = job.summary
    return out
