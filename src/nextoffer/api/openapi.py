"""OpenAPI for the Offer Library, generated from the same `EntitySpec`s that serve it.

Schemas come from the pydantic models (bodies) plus the system fields (read models), so the
document describes exactly what the server validates and returns.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic.json_schema import models_json_schema

from nextoffer.api.library_routes import PREFIX, collections
from nextoffer.library.entities import ENTITIES, EntitySpec

REF = "#/components/schemas/{model}"


def _name(spec: EntitySpec) -> str:
    return spec.title.title().replace(" ", "")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SYSTEM_PROPERTIES: dict[str, Any] = {
    "created": {"type": "string", "format": "date-time"},
    "modified": {"type": "string", "format": "date-time"},
    "etag": {"type": "integer", "minimum": 1},
    "schemas": {"type": "array", "items": {"type": "string"}},
    "createdBy": {"type": "string"},
    "lastModifiedBy": {"type": "string"},
    "id": {"type": "string"},
}

RECEIPT = {
    "type": "object",
    "description": "The write receipt returned by POST, PATCH and PUT.",
    "required": [
        "etag",
        "createdBy",
        "lastModifiedBy",
        "id",
        "sandboxId",
        "createdDate",
        "lastModifiedDate",
        "createdByClientId",
        "lastModifiedByClientId",
    ],
    "properties": {
        "etag": {"type": "integer", "minimum": 1},
        "createdBy": {"type": "string"},
        "lastModifiedBy": {"type": "string"},
        "id": {"type": "string"},
        "sandboxId": {"type": "string"},
        "createdDate": {"type": "string", "format": "date-time"},
        "lastModifiedDate": {"type": "string", "format": "date-time"},
        "createdByClientId": {"type": "string"},
        "lastModifiedByClientId": {"type": "string"},
    },
}

PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem; `errors` name the wrong fields.",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "pointer": {"type": "string"},
                    "parameter": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}

LINK = {
    "type": "object",
    "required": ["href", "type"],
    "properties": {"href": {"type": "string"}, "type": {"type": "string"}},
}

TENANT_PARAMETERS = [
    {
        "name": "x-gw-ims-org-id",
        "in": "header",
        "required": True,
        "description": "The IMS org id of the tenant.",
        "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,256}$"},
    },
    {
        "name": "x-sandbox-name",
        "in": "header",
        "required": True,
        "description": "The sandbox of the tenant.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"},
    },
]

LIST_PARAMETERS = [
    {
        "name": "property",
        "in": "query",
        "description": "Filters `[!]field[op]value` (== != <= >= < > ~), repeated or comma-joined.",
        "schema": {"type": "array", "items": {"type": "string"}},
        "style": "form",
        "explode": True,
    },
    {
        "name": "orderby",
        "in": "query",
        "description": "Comma-separated field paths, `-` for descending. Default -modified.",
        "schema": {"type": "string"},
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {
        "name": "start",
        "in": "query",
        "description": "Paging cursor from _links.",
        "schema": {"type": "string"},
    },
]

ID_PARAMETER = {
    "name": "object_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:@-]{1,256}$"},
}

ETAG_HEADER = {"ETag": {"description": "The object's etag, quoted.", "schema": {"type": "string"}}}


def _problems(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request or schema violation",
        401: "Missing or wrong credentials",
        403: "Org or sandbox not granted",
        404: "No such object",
        409: "Referenced by other objects, or a JSON Patch test failed",
        412: "If-Match does not match the current etag",
        413: "Body too large",
        415: "Body is not JSON",
        422: "Breaks a library rule (reference, lifecycle, limit, PQL)",
    }
    return {
        str(s): {
            "description": text[s],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
        for s in statuses
    }


def library_components() -> dict[str, Any]:
    """Component schemas: each entity's body, read model and list page, plus shared shapes."""
    _, top = models_json_schema([(spec.model, "validation") for spec in ENTITIES], ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    for spec in ENTITIES:
        name = _name(spec)
        body = schemas.pop(spec.model.__name__)
        schemas[name] = body
        read = copy.deepcopy(body)
        read["title"] = f"{spec.title} (read model)"
        read["properties"] = {**SYSTEM_PROPERTIES, **read.get("properties", {})}
        read["required"] = [*SYSTEM_PROPERTIES, *read.get("required", [])]
        schemas[f"{name}Read"] = read
        schemas[f"{name}List"] = {
            "type": "object",
            "required": ["results", "count", "total", "_links"],
            "properties": {
                "results": {"type": "array", "items": _ref(f"{name}Read")},
                "count": {"type": "integer", "minimum": 0},
                "total": {"type": "integer", "minimum": 0},
                "_links": {
                    "type": "object",
                    "required": ["self"],
                    "properties": {"self": LINK, "next": LINK, "prev": LINK},
                },
            },
        }
    schemas["WriteReceipt"] = RECEIPT
    schemas["Problem"] = PROBLEM
    return schemas


def _one_of(specs: tuple[EntitySpec, ...], suffix: str) -> dict[str, Any]:
    refs = [_ref(_name(s) + suffix) for s in specs]
    return refs[0] if len(refs) == 1 else {"anyOf": refs}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def library_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for segment, specs in collections().items():
        if segment != specs[0].collection:
            continue  # aliases are served but not advertised
        title = " / ".join(s.title.lower() + "s" for s in specs)
        params = list(TENANT_PARAMETERS)
        if specs[0].discriminator:
            name = specs[0].discriminator[0]
            values = [s.type_value for s in specs]
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": values + [v.upper() for v in values if v]},
                }
            )
        tag = [specs[0].collection]
        paths[f"{PREFIX}/{segment}"] = {
            "get": {
                "summary": f"List {title}",
                "operationId": f"list-{segment}",
                "tags": tag,
                "parameters": params + LIST_PARAMETERS,
                "responses": {
                    "200": {"description": "A page", "content": _json(_one_of(specs, "List"))},
                    **_problems(400, 401, 403),
                },
            },
            "post": {
                "summary": f"Create {title}",
                "operationId": f"create-{segment}",
                "tags": tag,
                "parameters": params,
                "requestBody": {"required": True, "content": _json(_one_of(specs, ""))},
                "responses": {
                    "201": {
                        "description": "Created",
                        "headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}}},
                        "content": _json(_ref("WriteReceipt")),
                    },
                    **_problems(400, 401, 403, 413, 415, 422),
                },
            },
        }
        item_params = [*params, ID_PARAMETER]
        if_match = {"name": "If-Match", "in": "header", "schema": {"type": "string"}}
        item: dict[str, Any] = {
            "get": {
                "summary": f"Read one of the {title}",
                "operationId": f"get-{segment}",
                "tags": tag,
                "parameters": [
                    *item_params,
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The read model",
                        "headers": ETAG_HEADER,
                        "content": _json(_one_of(specs, "Read")),
                    },
                    "304": {"description": "Not modified (If-None-Match)"},
                    **_problems(400, 401, 403, 404),
                },
            },
            "patch": {
                "summary": f"Update one of the {title} with JSON Patch",
                "operationId": f"patch-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "requestBody": {
                    "required": True,
                    "content": {
                        media: {"schema": _patch_schema(specs)}
                        for media in ("application/json", "application/json-patch+json")
                    },
                },
                "responses": {
                    "200": {"description": "Updated", "content": _json(_ref("WriteReceipt"))},
                    **_problems(400, 401, 403, 404, 409, 412, 413, 415, 422),
                },
            },
            "delete": {
                "summary": f"Delete one of the {title}",
                "operationId": f"delete-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "responses": {
                    "200": {"description": "Deleted (empty body)"},
                    **_problems(400, 401, 403, 404, 409, 412),
                },
            },
        }
        if any(s.replaceable for s in specs):
            item["put"] = {
                "summary": f"Replace one of the {title}",
                "operationId": f"replace-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "requestBody": {"required": True, "content": _json(_one_of(specs, ""))},
                "responses": {
                    "200": {"description": "Replaced", "content": _json(_ref("WriteReceipt"))},
                    **_problems(400, 401, 403, 404, 412, 413, 415, 422),
                },
            }
        paths[f"{PREFIX}/{segment}/{{object_id}}"] = item
    return paths


PATCH_OPERATION = {
    "type": "object",
    "required": ["op", "path"],
    "properties": {
        "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
        "path": {"type": "string"},
        "from": {"type": "string"},
        "value": {},
    },
}


def _patch_schema(specs: tuple[EntitySpec, ...]) -> dict[str, Any]:
    patch = {"type": "array", "items": PATCH_OPERATION}
    if any(s.replaceable for s in specs):
        return {"anyOf": [patch, _one_of(specs, "")]}
    return patch


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}


# -- the Decisioning API, datastreams and the Edge ------------------------------------------------

_OPTION = {
    "type": "object",
    "required": ["xdm:id", "repo:etag"],
    "properties": {
        "xdm:id": {"type": "string"},
        "repo:etag": {"type": "string"},
        "@type": {"type": "string"},
        "dc:format": {"type": "string"},
        "dc:language": {"type": "array", "items": {"type": "string"}},
        "xdm:content": {"type": "string"},
        "xdm:deliveryURL": {"type": "string"},
        "xdm:name": {"type": "string"},
        "xdm:score": {"type": "number"},
        "xdm:priority": {"type": "number"},
        "xdm:characteristics": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_ENTITY = {
    "type": "object",
    "required": ["xdm:id", "repo:etag"],
    "properties": {
        "xdm:id": {"type": "string"},
        "repo:etag": {"type": "string"},
        "xdm:name": {"type": "string"},
        "xdm:channel": {"type": "string"},
        "xdm:componentType": {"type": "string"},
    },
}
DECISION_SCHEMAS: dict[str, Any] = {
    "DecisionOption": _OPTION,
    "DecisionProposition": {
        "type": "object",
        "required": ["xdm:activity", "xdm:placement", "xdm:scope"],
        "properties": {
            "xdm:activity": _ENTITY,
            "xdm:placement": _ENTITY,
            "xdm:scope": {"type": "string"},
            "xdm:options": {"type": "array", "minItems": 1, "items": _ref("DecisionOption")},
            "xdm:fallback": _ref("DecisionOption"),
            "nextoffer:explanation": {"type": "object"},
        },
    },
    "DecisionResponse": {
        "type": "object",
        "required": ["xdm:propositionId", "xdm:propositions", "ode:createDate"],
        "properties": {
            "xdm:propositionId": {"type": "string"},
            "xdm:propositions": {"type": "array", "items": _ref("DecisionProposition")},
            "ode:createDate": {"type": "integer"},
        },
    },
    "DecisionResponseV09": {
        "type": "object",
        "required": ["xdm:propositionID", "xdm:propositions"],
        "properties": {
            "xdm:propositionID": {"type": "string"},
            "xdm:propositions": {"type": "array", "items": {"type": "object"}},
            "ode:createDate": {"type": "integer"},
        },
    },
    "Datastream": {
        "type": "object",
        "required": ["id", "name", "allowedOrigins", "created", "modified", "etag"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "allowedOrigins": {"type": "array", "items": {"type": "string"}},
            "created": {"type": "string", "format": "date-time"},
            "modified": {"type": "string", "format": "date-time"},
            "etag": {"type": "integer"},
        },
    },
    "DatastreamInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "\\S"},
            "description": {"type": "string"},
            "allowedOrigins": {
                "type": "array",
                "items": {
                    "type": "string",
                    "pattern": "^(\\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$",
                },
            },
        },
    },
}


def decisioning_components() -> dict[str, Any]:
    """The request structs' JSON Schema (from msgspec, what is really enforced) and responses."""
    import msgspec

    from nextoffer.wire.decisioning import DecisionRequest, DecisionRequestV09

    _, components = msgspec.json.schema_components(
        [DecisionRequest, DecisionRequestV09], ref_template="#/components/schemas/{name}"
    )
    return {**components, **DECISION_SCHEMAS}


def decisioning_paths() -> dict[str, Any]:
    decide = {
        "summary": "Decide the best offers for a profile, per decision scope",
        "tags": ["decisioning"],
        "parameters": list(TENANT_PARAMETERS),
        "requestBody": {
            "required": True,
            "content": _json({"anyOf": [_ref("DecisionRequest"), _ref("DecisionRequestV09")]}),
        },
        "responses": {
            "200": {
                "description": "Propositions",
                "content": _json(
                    {"anyOf": [_ref("DecisionResponse"), _ref("DecisionResponseV09")]}
                ),
            },
            **_problems(400, 401, 403, 413, 415, 422),
        },
    }
    ode = {
        **decide,
        "parameters": [
            *TENANT_PARAMETERS,
            {"name": "containerId", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
    }
    datastream_id = {
        "name": "datastream_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        "/data/core/ods/decisions": {"post": {**decide, "operationId": "decide"}},
        "/data/core/ode/{containerId}/decisions": {"post": {**ode, "operationId": "decide-ode"}},
        "/v1/datastreams": {
            "get": {
                "summary": "List the tenant's datastreams",
                "operationId": "list-datastreams",
                "tags": ["edge"],
                "parameters": list(TENANT_PARAMETERS),
                "responses": {
                    "200": {
                        "description": "Datastreams",
                        "content": _json(
                            {
                                "type": "object",
                                "required": ["results", "count"],
                                "properties": {
                                    "results": {"type": "array", "items": _ref("Datastream")},
                                    "count": {"type": "integer"},
                                },
                            }
                        ),
                    },
                    **_problems(400, 401, 403),
                },
            },
            "post": {
                "summary": "Create a datastream (its id is the Edge configId)",
                "operationId": "create-datastream",
                "tags": ["edge"],
                "parameters": list(TENANT_PARAMETERS),
                "requestBody": {"required": True, "content": _json(_ref("DatastreamInput"))},
                "responses": {
                    "201": {"description": "Created", "content": _json(_ref("Datastream"))},
                    **_problems(400, 401, 403, 413, 415),
                },
            },
        },
        "/v1/datastreams/{datastream_id}": {
            "get": {
                "summary": "Read a datastream",
                "operationId": "get-datastream",
                "tags": ["edge"],
                "parameters": [*TENANT_PARAMETERS, datastream_id],
                "responses": {
                    "200": {"description": "The datastream", "content": _json(_ref("Datastream"))},
                    **_problems(400, 401, 403, 404),
                },
            },
            "patch": {
                "summary": "Change a datastream (JSON merge patch)",
                "operationId": "patch-datastream",
                "tags": ["edge"],
                "parameters": [*TENANT_PARAMETERS, datastream_id],
                "requestBody": {"required": True, "content": _json({"type": "object"})},
                "responses": {
                    "200": {"description": "Changed", "content": _json(_ref("Datastream"))},
                    **_problems(400, 401, 403, 404, 412, 413, 415),
                },
            },
            "delete": {
                "summary": "Delete a datastream",
                "operationId": "delete-datastream",
                "tags": ["edge"],
                "parameters": [*TENANT_PARAMETERS, datastream_id],
                "responses": {"200": {"description": "Deleted"}, **_problems(400, 401, 403, 404)},
            },
        },
    }


# -- profiles and decision events ---------------------------------------------------------------

_STATUS = {"type": "string", "enum": ["realized", "existing", "exited"]}
_NAMESPACE_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_IDENTITIES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 1024}},
    },
}
_EVENT = {
    "type": "object",
    "description": "An XDM experience event; `timestamp` is required.",
    "required": ["timestamp"],
    "properties": {"timestamp": {"type": "string", "format": "date-time"}},
}
PROFILE_SCHEMAS: dict[str, Any] = {
    "ProfileInput": {
        "type": "object",
        "description": "A profile, XDM style. Identity namespaces are case-insensitive.",
        "additionalProperties": False,
        "properties": {
            "identityMap": {
                "type": "object",
                "propertyNames": {"pattern": _NAMESPACE_PATTERN},
                "additionalProperties": _IDENTITIES,
            },
            "attributes": {"type": "object"},
            "segmentMembership": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "propertyNames": {"minLength": 1, "maxLength": 256},
                    "additionalProperties": {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": _STATUS},
                    },
                },
            },
            "segments": {
                "type": "object",
                "propertyNames": {"minLength": 1, "maxLength": 256},
                "additionalProperties": _STATUS,
            },
            "events": {"type": "array", "items": _EVENT},
            "profileId": {"description": "read-only: ignored on write"},
            "etag": {"description": "read-only: ignored on write"},
            "created": {"description": "read-only: ignored on write"},
            "modified": {"description": "read-only: ignored on write"},
        },
    },
    "Profile": {
        "type": "object",
        "required": [
            "profileId",
            "identityMap",
            "attributes",
            "segmentMembership",
            "events",
            "etag",
            "created",
            "modified",
        ],
        "properties": {
            "profileId": {"type": "string"},
            "identityMap": {"type": "object", "additionalProperties": _IDENTITIES},
            "attributes": {"type": "object"},
            "segmentMembership": {"type": "object"},
            "events": {"type": "array", "items": _EVENT},
            "etag": {"type": "integer", "minimum": 1},
            "created": {"type": "string", "format": "date-time"},
            "modified": {"type": "string", "format": "date-time"},
        },
    },
    "BulkResult": {
        "type": "object",
        "required": ["created", "replaced", "total"],
        "properties": {
            "created": {"type": "integer", "minimum": 0},
            "replaced": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
        },
    },
    "DecisionEvent": {
        "type": "object",
        "required": [
            "propositionId",
            "timestamp",
            "profileId",
            "identity",
            "activityId",
            "placementId",
            "offers",
            "fallbackId",
            "requestId",
        ],
        "properties": {
            "propositionId": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
            "profileId": {"type": ["string", "null"]},
            "identity": {
                "type": ["object", "null"],
                "properties": {"namespace": {"type": "string"}, "id": {"type": "string"}},
            },
            "activityId": {"type": "string"},
            "placementId": {"type": "string"},
            "offers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "rank", "score"],
                    "properties": {
                        "id": {"type": "string"},
                        "rank": {"type": "integer", "minimum": 1},
                        "score": {"type": ["number", "null"]},
                    },
                },
            },
            "fallbackId": {"type": ["string", "null"]},
            "requestId": {"type": ["string", "null"]},
        },
    },
}


def _jsonl_body(line: dict[str, Any]) -> dict[str, Any]:
    """A JSON Lines request body whose every line is `line`."""
    items = {"type": "array", "description": "Each item is one line of the body.", "items": line}
    return {"required": True, "content": {"application/x-ndjson": {"schema": items}}}


def profile_paths() -> dict[str, Any]:
    """`/v1/profiles`, `/v1/decision-events` and `/v1/events`."""
    key = [
        *TENANT_PARAMETERS,
        {
            "name": "namespace",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": _NAMESPACE_PATTERN},
        },
        {
            "name": "identity",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 1024},
        },
    ]
    profile = {
        "description": "The profile",
        "headers": ETAG_HEADER,
        "content": _json(_ref("Profile")),
    }
    upserted = {"200": profile, "201": {**profile, "description": "Created"}}
    tags = ["profiles"]

    def query(name: str, description: str, **schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "description": description,
            "schema": {"type": "string", **schema},
        }

    return {
        "/v1/profiles": {
            "post": {
                "summary": "Create or replace the profile its identityMap names",
                "operationId": "upsert-profile",
                "tags": tags,
                "parameters": list(TENANT_PARAMETERS),
                "requestBody": {"required": True, "content": _json(_ref("ProfileInput"))},
                "responses": {**upserted, **_problems(400, 401, 403, 409, 412, 413, 415)},
            }
        },
        "/v1/profiles/bulk": {
            "post": {
                "summary": "Load profiles from JSON Lines (one profile per line), all or nothing",
                "description": "Also at `/v1/profiles:bulk`. A bad line fails the whole load "
                "and the error names it (`line`).",
                "operationId": "bulk-load-profiles",
                "tags": tags,
                "parameters": list(TENANT_PARAMETERS),
                "requestBody": _jsonl_body(_ref("ProfileInput")),
                "responses": {
                    "200": {"description": "Counts", "content": _json(_ref("BulkResult"))},
                    **_problems(400, 401, 403, 409, 413, 415),
                },
            }
        },
        "/v1/events": {
            "post": {
                "summary": "Take experience events in bulk (JSON Lines): keep them, count them",
                "description": 'Each line is `{"xdm": {...}}` or the bare XDM event. Display '
                "and interact notifications must name propositions made in this sandbox. The "
                "body is checked whole first; an error names its `line`.",
                "operationId": "post-events",
                "tags": ["feedback"],
                "parameters": [
                    *TENANT_PARAMETERS,
                    {
                        "name": "dryRun",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                        "description": "Check the events only.",
                    },
                ],
                "requestBody": _jsonl_body({"type": "object"}),
                "responses": {
                    "200": {
                        "description": "What was done",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    k: {"type": "integer"}
                                    for k in (
                                        "events",
                                        "kept",
                                        "impressions",
                                        "clicks",
                                        "custom",
                                        "profiles",
                                    )
                                }
                                | {"dryRun": {"type": "boolean"}},
                            }
                        ),
                    },
                    **_problems(400, 401, 403, 413, 415, 422),
                },
            }
        },
        "/v1/profiles/{namespace}/{identity}": {
            "get": {
                "summary": "Read the profile that has this identity",
                "operationId": "get-profile",
                "tags": tags,
                "parameters": key,
                "responses": {"200": profile, **_problems(400, 401, 403, 404)},
            },
            "put": {
                "summary": "Create or replace the profile that has this identity, as a whole",
                "operationId": "put-profile",
                "tags": tags,
                "parameters": key,
                "requestBody": {"required": True, "content": _json(_ref("ProfileInput"))},
                "responses": {**upserted, **_problems(400, 401, 403, 409, 412, 413, 415)},
            },
            "patch": {
                "summary": "Change the profile with a JSON merge patch (creates it when absent)",
                "operationId": "patch-profile",
                "tags": tags,
                "parameters": key,
                "requestBody": {
                    "required": True,
                    "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
                },
                "responses": {**upserted, **_problems(400, 401, 403, 409, 412, 413, 415)},
            },
            "delete": {
                "summary": "Delete the profile with its identities and memberships",
                "operationId": "delete-profile",
                "tags": tags,
                "parameters": key,
                "responses": {"200": {"description": "Deleted"}, **_problems(400, 401, 403, 404)},
            },
        },
        "/v1/decision-events": {
            "get": {
                "summary": "Decision events, newest first, filtered and paged",
                "operationId": "list-decision-events",
                "tags": ["decisioning"],
                "parameters": [
                    *TENANT_PARAMETERS,
                    query("profileId", "Events of this profile."),
                    query("identity", "NAMESPACE:ID of the request.", pattern="^[^:]+:.+$"),
                    query("activityId", "Events of this decision."),
                    query("placementId", "Events of this placement."),
                    query("offerId", "Events that proposed this offer (or fallback)."),
                    query("since", "From this instant (inclusive).", format="date-time"),
                    query("until", "Before this instant.", format="date-time"),
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                    query("start", "Paging cursor from _links.next."),
                ],
                "responses": {
                    "200": {
                        "description": "A page of events",
                        "content": _json(
                            {
                                "type": "object",
                                "required": ["results", "count", "_links"],
                                "properties": {
                                    "results": {"type": "array", "items": _ref("DecisionEvent")},
                                    "count": {"type": "integer"},
                                    "_links": {
                                        "type": "object",
                                        "additionalProperties": LINK,
                                    },
                                },
                            }
                        ),
                    },
                    **_problems(400, 401, 403),
                },
            }
        },
    }


# -- the Batch Decisioning API ---------------------------------------------------------------------

_WORKLOAD_STATUS = ["QUEUED", "PROCESSING", "INGESTING", "COMPLETED", "ERROR"]
BATCH_SCHEMAS: dict[str, Any] = {
    "Workload": {
        "type": "object",
        "description": "A batch job, as Adobe's create and status responses show it.",
        "required": ["@id", "xdm:imsOrgId", "ode:createDate", "ode:status"],
        "properties": {
            "@id": {"type": "string"},
            "xdm:imsOrgId": {"type": "string"},
            "xdm:containerId": {"type": "string"},
            "ode:createDate": {"type": "integer"},
            "ode:status": {"type": "string", "enum": _WORKLOAD_STATUS},
            "ode:statusDetail": {"type": "object"},
            "nextoffer:output": {
                "type": "object",
                "required": ["dataSetId", "format", "path"],
                "properties": {
                    "dataSetId": {"type": "string"},
                    "format": {"type": "string", "enum": ["parquet", "jsonl"]},
                    "path": {"type": "string"},
                },
            },
            "nextoffer:summary": {"type": "object"},
        },
    },
}


def batch_components() -> dict[str, Any]:
    """The workload request (msgspec's schema: what is enforced) and the workload document."""
    import msgspec

    from nextoffer.api.batch_routes import WorkloadRequest

    _, components = msgspec.json.schema_components(
        [WorkloadRequest], ref_template="#/components/schemas/{name}"
    )
    return {**components, **BATCH_SCHEMAS}


def batch_paths() -> dict[str, Any]:
    from nextoffer.api.batch_routes import JOB_ID

    container = {
        "name": "containerId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    workload_id = {
        "name": "workload_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": JOB_ID},
    }
    create = {
        "summary": "Queue a batch decisioning job for every profile of one audience",
        "tags": ["batch"],
        "parameters": list(TENANT_PARAMETERS),
        "requestBody": {"required": True, "content": _json(_ref("WorkloadRequest"))},
        "responses": {
            "200": {
                "description": "The queued workload; `Location` names its status document",
                "content": _json(_ref("Workload")),
            },
            **_problems(400, 401, 403, 413, 415, 422),
        },
    }
    status = {
        "summary": "The status of a batch decisioning job",
        "tags": ["batch"],
        "parameters": [*TENANT_PARAMETERS, workload_id],
        "responses": {
            "200": {"description": "The workload", "content": _json(_ref("Workload"))},
            **_problems(400, 401, 403, 404),
        },
    }
    return {
        "/data/core/dwm/workloads/decisions": {"post": {**create, "operationId": "batch-decide"}},
        "/data/core/dwm/workloads/decisions/{workload_id}": {
            "get": {**status, "operationId": "batch-status"}
        },
        "/data/core/ode/{containerId}/workloads/decisions": {
            "post": {
                **create,
                "operationId": "batch-decide-ode",
                "parameters": [*TENANT_PARAMETERS, container],
            }
        },
        "/data/core/ode/{containerId}/workloads/decisions/{workload_id}": {
            "get": {
                **status,
                "operationId": "batch-status-ode",
                "parameters": [*TENANT_PARAMETERS, container, workload_id],
            }
        },
    }
