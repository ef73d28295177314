"""The Batch Decisioning API: `/data/core/dwm/workloads/decisions[/{id}]` and its ODE twin.

POST queues a job for one audience and answers with the workload (`ode:status: QUEUED`); GET
reports its status as Adobe's status document does, plus where the output is and what it
holds once COMPLETED (`nextoffer:output`, `nextoffer:summary`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import is_json_media_type, read_body
from nextoffer.api.context import call_of, json_response, offload, offload_write, services
from nextoffer.api.msgspec_errors import decode
from nextoffer.batch.plan import BatchPlan
from nextoffer.errors import InvalidInput, UnsupportedMediaType
from nextoffer.patterns import described
from nextoffer.records.batch_jobs import JobRequest, status_document
from nextoffer.wire.decisioning import PropositionRequest

DATASET_ID = described(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z",
    "a dataset id: a letter or digit, then up to 127 letters, digits, _ . or -",
)
r"""`\Z`, not `$`: msgspec searches with Python's `re`, where `$` matches before a final newline
(the OpenAPI document publishes it with `$`, which means the end in ECMA-262)."""
JOB_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
_JOB_ID = re.compile(JOB_ID)
AudienceId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class WorkloadRequest(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """The documented batch request, plus nextoffer's seed and output format."""

    segment_ids: Annotated[list[AudienceId], msgspec.Meta(min_length=1, max_length=1)] = (
        msgspec.field(name="xdm:segmentIds")
    )
    dataset_id: Annotated[str, msgspec.Meta(pattern=DATASET_ID)] = msgspec.field(
        name="xdm:dataSetId"
    )
    scopes: Annotated[list[PropositionRequest], msgspec.Meta(min_length=1, max_length=30)] = (
        msgspec.field(name="xdm:propositionRequests")
    )
    include_content: bool = msgspec.field(name="xdm:includeContent", default=False)
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = msgspec.field(
        name="nextoffer:seed", default=None
    )
    """Makes ties reproducible: the same seed decides the same rows."""
    output_format: Literal["parquet", "jsonl"] = msgspec.field(
        name="nextoffer:format", default="parquet"
    )


async def post_workload(request: Request) -> Response:
    call = call_of(request)
    svc = services(request)
    if not is_json_media_type(request.headers.get("content-type")):
        raise UnsupportedMediaType.at(
            "send the workload as application/json", parameter="Content-Type"
        )
    body = await read_body(request, svc.settings.max_body_bytes)
    req = decode(body, WorkloadRequest, "the batch decisioning request")
    assert isinstance(req, WorkloadRequest)
    job_request = JobRequest(
        audience=req.segment_ids[0],
        dataset_id=req.dataset_id,
        scopes=tuple((s.activity_id, s.placement_id, s.item_count) for s in req.scopes),
        include_content=req.include_content,
        seed=req.seed if req.seed is not None else BatchPlan.new_seed(),
        output_format=req.output_format,
    )
    container_id = request.path_params.get("container_id")
    job = await offload_write(
        request,
        lambda: svc.batch.submit(call.tenant, job_request, container_id=container_id),
    )
    location = f"{request.url.path.rstrip('/')}/{job.id}"
    return json_response(status_document(job), 200, headers={"Location": location})


async def get_workload(request: Request) -> Response:
    call = call_of(request)
    job_id = request.path_params["workload_id"]
    if _JOB_ID.match(job_id) is None:
        raise InvalidInput.at(f"{job_id!r} is not a workload id (a UUID)", parameter="id")
    container_id = request.path_params.get("container_id")
    job = await offload(request, services(request).batch.get, call.tenant, job_id, container_id)
    return json_response(status_document(job))


def batch_routes() -> list[Route]:
    return [
        Route("/data/core/dwm/workloads/decisions", post_workload, methods=["POST"]),
        Route("/data/core/dwm/workloads/decisions/{workload_id}", get_workload, methods=["GET"]),
        Route("/data/core/ode/{container_id}/workloads/decisions", post_workload, methods=["POST"]),
        Route(
            "/data/core/ode/{container_id}/workloads/decisions/{workload_id}",
            get_workload,
            methods=["GET"],
        ),
    ]
