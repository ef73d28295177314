"""Every route outside the Offer Library, as data: path, method, parameters and the types of
its bodies. `openapi.document` turns this table into `/openapi.json`.

Request types are the structs the routes decode (imported here, in one place); response types
are the shapes of `openapi_shapes`. A type named here becomes a component schema by its class
name, so the document and the decoder cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nextoffer.api import openapi_shapes as shapes
from nextoffer.api.batch_routes import JOB_ID, WorkloadRequest
from nextoffer.api.pql_routes import PqlCheckRequest
from nextoffer.wire.decisioning import DecisionRequest, DecisionRequestV09
from nextoffer.wire.edge import EdgeEvent, EdgeRequest
from nextoffer.wire.simulations import SimulationRequest

JSON = "application/json"
JSON_LINES = "application/x-ndjson"
MERGE_PATCH = "application/merge-patch+json"
PROBLEM_JSON = "application/problem+json"
ALSO_JSON_LINES = {"x-request-media-types": [JSON, JSON_LINES]}
"""Bulk bodies: a JSON array (documented, what generators send) or JSON Lines (streamed)."""


@dataclass(frozen=True)
class Body:
    """A body of one type; `many` makes it a JSON array of that type."""

    types: tuple[type, ...]
    media: str = JSON
    many: bool = False
    description: str | None = None


@dataclass(frozen=True)
class Answer:
    description: str
    body: Body | None = None
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tags: tuple[str, ...]
    answers: dict[int, Answer]
    problems: tuple[int, ...] = ()
    parameters: tuple[dict[str, Any], ...] = ()
    body: Body | None = None
    description: str | None = None
    public: bool = False
    """No credentials (probes, the Edge: a browser calls it)."""
    tenant: bool = True
    """Takes the tenant headers (the Edge's tenant comes from its datastream instead)."""
    extra: dict[str, Any] = field(default_factory=dict)


def body(*types: type, media: str = JSON, many: bool = False) -> Body:
    return Body(types, media, many)


def query(name: str, description: str, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def ecma_pattern(pattern: str) -> str:
    """A Python pattern as the OpenAPI document publishes it: the end anchor `\\Z` (Python's
    `$` also matches before a final newline) is `$` in ECMA-262."""
    return pattern[:-2] + "$" if pattern.endswith("\\Z") else pattern


def path_param(name: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", **schema}}


LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}
NAMESPACE = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


def _operations() -> list[Operation]:
    ops: list[Operation] = []

    # -- operations ------------------------------------------------------------------------
    ops.append(
        Operation(
            "get",
            "/v1/health",
            "health",
            "Liveness: answers without any I/O",
            ("operations",),
            {200: Answer("Alive", body(shapes.Health))},
            public=True,
            tenant=False,
        )
    )
    ops.append(
        Operation(
            "get",
            "/v1/ready",
            "ready",
            "Readiness: a decision can be made (every dependency answers, schema at head)",
            ("operations",),
            {
                200: Answer("Ready", body(shapes.Ready)),
                503: Answer("A dependency is down, or migrations are pending", body(shapes.Ready)),
            },
            public=True,
            tenant=False,
        )
    )

    ops.append(
        Operation(
            "get",
            "/v1/whoami",
            "whoami",
            "The caller, and the orgs and sandboxes its credentials grant",
            ("operations",),
            {200: Answer("Who calls, and where it may", body(shapes.WhoAmI))},
            problems=(401,),
            tenant=False,
        )
    )

    for op_id, path in (("metrics", "/metrics"), ("metrics-v1", "/v1/metrics")):
        ops.append(
            Operation(
                "get",
                path,
                op_id,
                "Prometheus metrics, in the Prometheus text format",
                ("operations",),
                {200: Answer("Every metric of the server (README, Observability)")},
                (401, 403, 404),
                description="Loopback clients only, unless NEXTOFFER_METRICS_TOKEN is set: "
                "then `Authorization: Bearer <that token>` from anywhere. 404 when "
                "NEXTOFFER_METRICS=off.",
                public=True,
                tenant=False,
            )
        )

    # -- the Decisioning API ----------------------------------------------------------------
    decide = {
        200: Answer("Propositions", body(shapes.DecisionResponse, shapes.DecisionResponseV09))
    }
    for op_id, path, params in (
        ("decide", "/data/core/ods/decisions", ()),
        (
            "decide-ode",
            "/data/core/ode/{containerId}/decisions",
            (path_param("containerId"),),
        ),
    ):
        ops.append(
            Operation(
                "post",
                path,
                op_id,
                "Decide the best offers for a profile, per decision scope",
                ("decisioning",),
                decide,
                (400, 401, 403, 413, 415, 422),
                params,
                body(DecisionRequest, DecisionRequestV09),
            )
        )

    # -- datastreams and the Edge ------------------------------------------------------------
    datastream_id = path_param("datastream_id")
    ops += [
        Operation(
            "get",
            "/v1/datastreams",
            "list-datastreams",
            "List the tenant's datastreams",
            ("edge",),
            {200: Answer("Datastreams", body(shapes.DatastreamList))},
            (400, 401, 403),
        ),
        Operation(
            "post",
            "/v1/datastreams",
            "create-datastream",
            "Create a datastream (its id is the Edge configId)",
            ("edge",),
            {201: Answer("Created", body(shapes.Datastream), ("ETag", "Location"))},
            (400, 401, 403, 413, 415),
            body=body(shapes.DatastreamInput),
        ),
        Operation(
            "get",
            "/v1/datastreams/{datastream_id}",
            "get-datastream",
            "Read a datastream",
            ("edge",),
            {200: Answer("The datastream", body(shapes.Datastream), ("ETag",))},
            (400, 401, 403, 404),
            (datastream_id,),
        ),
        Operation(
            "patch",
            "/v1/datastreams/{datastream_id}",
            "patch-datastream",
            "Change a datastream (JSON merge patch)",
            ("edge",),
            {200: Answer("Changed", body(shapes.Datastream), ("ETag",))},
            (400, 401, 403, 404, 412, 413, 415),
            (datastream_id,),
            body(shapes.DatastreamPatch),
        ),
        Operation(
            "delete",
            "/v1/datastreams/{datastream_id}",
            "delete-datastream",
            "Delete a datastream",
            ("edge",),
            {200: Answer("Deleted (empty body)")},
            (400, 401, 403, 404),
            (datastream_id,),
        ),
    ]
    edge_params = (
        query("configId", "The datastream (`dataStreamId` is taken too).", required=True),
        query("requestId", "Echoed as `requestId`; a UUID is made when absent."),
    )
    for version in ("v1", "v2"):
        for hint in (False, True):
            prefix = f"/ee/{{hint}}/{version}" if hint else f"/ee/{version}"
            params = (path_param("hint"), *edge_params) if hint else edge_params
            suffix = f"-{version}" + ("-hinted" if hint else "")
            where = " (with a locationHint)" if hint else ""
            ops.append(
                Operation(
                    "post",
                    f"{prefix}/interact",
                    f"edge-interact{suffix}",
                    f"Edge interact{where}: decide the scopes each event carries",
                    ("edge",),
                    {200: Answer("Handles, one per event that asked", body(shapes.EdgeResponse))},
                    (400, 401, 403, 413, 415, 422, 429),
                    params,
                    body(EdgeRequest),
                    description="Called by the Web SDK without credentials: the datastream "
                    "names the tenant. The body may also be sent as `text/plain` (sendBeacon). "
                    "With API credentials the caller is trusted as the tenant's server; a dry "
                    "run needs them (401). An invalid identity token is 401.",
                    public=True,
                    tenant=False,
                )
            )
            ops.append(
                Operation(
                    "post",
                    f"{prefix}/collect",
                    f"edge-collect{suffix}",
                    f"Edge collect{where}: keep and count events, answer nothing",
                    ("edge",),
                    {204: Answer("Taken")},
                    (400, 401, 403, 413, 415, 422, 429),
                    params,
                    body(EdgeRequest),
                    public=True,
                    tenant=False,
                )
            )

    # -- profiles, events and decision events --------------------------------------------------
    key = (path_param("namespace", pattern=NAMESPACE), path_param("identity"))
    identity = {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[^\\n]+$"}
    key = (key[0], {**key[1], "schema": identity})  # a line break never routes: 404
    upserted = {
        200: Answer("The profile", body(shapes.Profile), ("ETag",)),
        201: Answer("Created", body(shapes.Profile), ("ETag", "Location")),
    }
    bulk_description = (
        "A JSON array of profiles, or JSON Lines (`application/x-ndjson`, one profile per line). "
        "Also at `/v1/profiles:bulk`. The load is checked whole first: a bad item, or one whose "
        "identities belong to two profiles, fails it with nothing written, and the error names "
        "it (`line`: the 1-based item or line number). It is then written in short steps; should "
        "another writer take one of its identities meanwhile, the 409 says how many items were "
        "written (`applied`), and sending the load again finishes it."
    )
    ops += [
        Operation(
            "post",
            "/v1/profiles",
            "upsert-profile",
            "Create or replace the profile its identityMap names",
            ("profiles",),
            upserted,
            (400, 401, 403, 409, 412, 413, 415),
            body=body(shapes.ProfileInput),
        ),
        Operation(
            "post",
            "/v1/profiles/bulk",
            "bulk-load-profiles",
            "Load many profiles: checked whole, then written in short steps",
            ("profiles",),
            {200: Answer("Counts", body(shapes.BulkResult))},
            (400, 401, 403, 409, 413, 415),
            body=body(shapes.ProfileInput, many=True),
            description=bulk_description,
            extra=ALSO_JSON_LINES,
        ),
        Operation(
            "post",
            "/v1/events",
            "post-events",
            "Take experience events in bulk: keep them, count them",
            ("feedback",),
            {200: Answer("What was done", body(shapes.IngestResult))},
            (400, 401, 403, 413, 415, 422),
            (query("dryRun", "Check the events only.", type="boolean"),),
            body(EdgeEvent, many=True),
            description="A JSON array of events, or JSON Lines (`application/x-ndjson`). Each "
            'item is `{"xdm": {...}}` or the bare XDM event. Display and interact '
            "notifications must name propositions made in this sandbox. The body is checked "
            "whole first; an error names its `line` (the 1-based item or line number).",
            extra=ALSO_JSON_LINES,
        ),
        Operation(
            "get",
            "/v1/profiles/{namespace}/{identity}",
            "get-profile",
            "Read the profile that has this identity",
            ("profiles",),
            {200: Answer("The profile", body(shapes.Profile), ("ETag",))},
            (400, 401, 403, 404),
            key,
        ),
        Operation(
            "put",
            "/v1/profiles/{namespace}/{identity}",
            "put-profile",
            "Create or replace the profile that has this identity, as a whole",
            ("profiles",),
            upserted,
            (400, 401, 403, 409, 412, 413, 415),
            key,
            body(shapes.ProfileInput),
        ),
        Operation(
            "patch",
            "/v1/profiles/{namespace}/{identity}",
            "patch-profile",
            "Change the profile with a JSON merge patch (creates it when absent)",
            ("profiles",),
            upserted,
            (400, 401, 403, 409, 412, 413, 415),
            key,
            body(shapes.ProfilePatch, media=MERGE_PATCH),
        ),
        Operation(
            "delete",
            "/v1/profiles/{namespace}/{identity}",
            "delete-profile",
            "Delete the profile with its identities and memberships",
            ("profiles",),
            {200: Answer("Deleted (empty body)")},
            (400, 401, 403, 404),
            key,
        ),
        Operation(
            "get",
            "/v1/decision-events",
            "list-decision-events",
            "Decision events, newest first, filtered and paged",
            ("decisioning",),
            {200: Answer("A page of events", body(shapes.DecisionEventPage))},
            (400, 401, 403),
            (
                query("profileId", "Events of this profile."),
                query("identity", "NAMESPACE:ID of the request.", pattern="^[^:]+:.+$"),
                query("activityId", "Events of this decision."),
                query("placementId", "Events of this placement."),
                query("offerId", "Events that proposed this offer (or fallback)."),
                query("since", "From this instant (inclusive).", format="date-time"),
                query("until", "Before this instant.", format="date-time"),
                LIMIT,
                query("start", "Paging cursor from _links.next."),
            ),
        ),
        Operation(
            "get",
            "/v1/ranking-strategies/{strategy_id}/model",
            "get-ranking-model",
            "A ranking strategy's trained model: version, window, counts and per-offer posterior",
            ("ranking",),
            {200: Answer("The model state", body(shapes.ModelState))},
            (400, 401, 403, 404),
            (path_param("strategy_id"),),
        ),
        Operation(
            "post",
            "/v1/ranking-strategies/{strategy_id}/train",
            "train-ranking-model",
            "Train the strategy's model now on the logged decisions and feedback",
            ("ranking",),
            {200: Answer("The new model state", body(shapes.ModelState))},
            (400, 401, 403, 404, 409),
            (path_param("strategy_id"),),
        ),
    ]

    # -- authoring ------------------------------------------------------------------------------
    ops.append(
        Operation(
            "post",
            "/v1/pql/check",
            "check-pql",
            "Compile a rule condition or a ranking formula without saving it",
            ("authoring",),
            {
                200: Answer(
                    "Valid with what it reads, or invalid with its errors", body(shapes.PqlCheck)
                )
            },
            (400, 401, 403, 404, 413, 415),
            body=body(PqlCheckRequest),
            description="The same compile a save runs: a text this calls valid saves. Errors "
            "carry 1-based `line`/`column`, `endLine`/`endColumn` (just after the offending "
            "text), an `excerpt` with a caret and, for a recognised mistake, a `hint`. A text "
            "past a rule's 15 KB (a formula's 8 KB) is invalid with a `limit` error; a body "
            "past 64 KiB is 413. Nothing is saved or cached.",
        )
    )

    ops.append(
        Operation(
            "post",
            "/v1/simulations",
            "simulate",
            "What would this profile get: explained dry runs of every live decision",
            ("decisioning",),
            {200: Answer("One explained proposition per scope", body(shapes.Simulation))},
            (400, 401, 403, 404, 413, 415, 422),
            body=body(SimulationRequest),
            description="For a stored profile (`profile`: `namespace:id`) or an inline one "
            "(`attributes`, `segmentMembership`, `events`), with optional `contextData` and a "
            "decision time `at` (default now): every placement of every live decision, or of "
            "the `decisions` named (drafts too), decided as a dry run with its explanation. "
            "Each scope is decided on its own (duplicates allowed across scopes). Caps are read "
            "from the real counters; nothing is recorded and no counter moves. An unknown "
            "decision is 422 naming it.",
        )
    )

    # -- the Batch Decisioning API ---------------------------------------------------------------
    container = path_param("containerId")
    workload_id = path_param("workload_id", pattern=ecma_pattern(JOB_ID))
    for suffix, base, params in (
        ("", "/data/core/dwm/workloads/decisions", ()),
        ("-ode", "/data/core/ode/{containerId}/workloads/decisions", (container,)),
    ):
        ops.append(
            Operation(
                "post",
                base,
                f"batch-decide{suffix}",
                "Queue a batch decisioning job for every profile of one audience",
                ("batch",),
                {
                    200: Answer(
                        "The queued workload; `Location` names its status document",
                        body(shapes.Workload),
                        ("Location",),
                    )
                },
                (400, 401, 403, 413, 415, 422, 429),
                params,
                body(WorkloadRequest),
            )
        )
        ops.append(
            Operation(
                "get",
                f"{base}/{{workload_id}}",
                f"batch-status{suffix}",
                "The status of a batch decisioning job",
                ("batch",),
                {200: Answer("The workload", body(shapes.Workload))},
                (400, 401, 403, 404),
                (*params, workload_id),
            )
        )
    return ops


OPERATIONS: tuple[Operation, ...] = tuple(_operations())
