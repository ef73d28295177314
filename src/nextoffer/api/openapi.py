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
