"""`/openapi.json`, generated from the types the routes decode, and `/docs`, served offline.

The Offer Library's paths come from its `EntitySpec`s and their pydantic models; every other
route is a row of `openapi_routes.OPERATIONS`. Component schemas come from pydantic
(`models_json_schema`) and msgspec (`schema_components`) only, so the document describes what
the server validates and (checked by the schemathesis suite) what it answers.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from nextoffer.api import openapi_shapes as shapes
from nextoffer.api.library_routes import PREFIX, collections
from nextoffer.api.openapi_routes import (
    JSON,
    OPERATIONS,
    PROBLEM_JSON,
    Answer,
    Body,
    Operation,
    ecma_pattern,
)
from nextoffer.library.entities import ENTITIES, EntitySpec

REF = "#/components/schemas/{name}"
DOCS_ASSETS = "/docs/assets"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _name(spec: EntitySpec) -> str:
    return spec.title.title().replace(" ", "")


PROBLEM_TEXT = {
    400: "Malformed request or schema violation",
    401: "Missing or wrong credentials",
    403: "Org or sandbox not granted (the Edge: origin not allowed)",
    404: "No such object, or no such sandbox (unknown-sandbox)",
    409: "Referenced by other objects, or a JSON Patch test failed",
    412: "If-Match does not match the current etag",
    413: "Body too large",
    415: "Unsupported Content-Type",
    422: "Breaks a rule (reference, lifecycle, limit, PQL, unknown proposition)",
    429: "Over a rate limit or queue limit; `Retry-After` says when to try again",
    503: "Busy: the write waited NEXTOFFER_WRITE_WAIT_SECONDS for the database; nothing was "
    "written; retry after Retry-After seconds",
}
BUSY_TOO = frozenset({"/v1/decision-events"})
"""GET operations that write first (the decision-event buffer), so may be busy too."""

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

HEADERS = {
    "ETag": {"description": "The object's etag, quoted.", "schema": {"type": "string"}},
    "Location": {"description": "Where the object is read.", "schema": {"type": "string"}},
}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}


def problems(*statuses: int) -> dict[str, Any]:
    if 403 in statuses:  # a tenant's call: its sandbox may not exist (404 unknown-sandbox)
        statuses = tuple(sorted({*statuses, 404}))
    return {
        str(s): {
            "description": PROBLEM_TEXT[s],
            "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
            **({"headers": {"Retry-After": {"schema": {"type": "integer"}}}} if s == 429 else {}),
        }
        for s in statuses
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


# -- components ---------------------------------------------------------------------------------

SYSTEM_PROPERTIES: dict[str, Any] = {
    "created": {"type": "string", "format": "date-time"},
    "modified": {"type": "string", "format": "date-time"},
    "etag": {"type": "integer", "minimum": 1},
    "createdBy": {"type": "string"},
    "lastModifiedBy": {"type": "string"},
    "id": {"type": "string"},
}


def _tenant_fields(schema: dict[str, Any]) -> None:
    """`_`-prefixed tenant fields (`_acme`) as `additionalProperties`, which client generators
    keep; `propertyNames` still says that only those may be added to the declared fields."""
    if schema.get("additionalProperties") is False and "patternProperties" in schema:
        schema["additionalProperties"] = True
        schema["propertyNames"] = {
            "anyOf": [{"enum": sorted(schema.get("properties", {}))}, {"pattern": "^_"}]
        }


def library_components() -> dict[str, Any]:
    """Each entity's body, read model, list page and patch, from its pydantic model."""
    models: list[tuple[type[BaseModel], Any]] = [(spec.model, "validation") for spec in ENTITIES]
    _, top = models_json_schema(models, ref_template=REF.replace("{name}", "{model}"))
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    for spec in ENTITIES:
        name = _name(spec)
        body = schemas.pop(spec.model.__name__)
        _tenant_fields(body)
        schemas[name] = body
        read = copy.deepcopy(body)
        read.pop("title", None)  # the component's name names the generated class
        read["description"] = f"{spec.title} as read back (read model)."
        # `schemas` names the entity: it tells the read models of one collection apart
        system = {
            **SYSTEM_PROPERTIES,
            "schemas": {"type": "array", "items": {"const": spec.schema_id}, "minItems": 1},
        }
        read["properties"] = {**system, **read.get("properties", {})}
        read["required"] = [*system, *read.get("required", [])]
        if "propertyNames" in read:
            read["propertyNames"]["anyOf"][0]["enum"] = sorted(read["properties"])
        schemas[f"{name}Read"] = read
        schemas[f"{name}List"] = {
            "type": "object",
            "required": ["results", "count", "total", "_links"],
            "properties": {
                "results": {"type": "array", "items": ref(f"{name}Read")},
                "count": {"type": "integer", "minimum": 0},
                "total": {"type": "integer", "minimum": 0},
                "_links": ref("PageLinks"),
            },
        }
        patch: dict[str, Any] = {"type": "array", "items": ref("PatchOperation")}
        if spec.replaceable:
            patch = {"anyOf": [patch, ref(name)]}
        schemas[f"{name}Patch"] = {
            "description": f"A JSON Patch of a {spec.title.lower()}.",
            **patch,
        }
    return schemas


def _types_of(ops: tuple[Operation, ...]) -> list[type]:
    seen: dict[type, None] = {
        shapes.Problem: None,
        shapes.WriteReceipt: None,
        shapes.PageLinks: None,
        shapes.PatchOperation: None,
    }
    for op in ops:
        bodies = [op.body, *(a.body for a in op.answers.values())]
        for b in bodies:
            for t in b.types if b else ():
                seen[t] = None
    return list(seen)


def _ecma_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: ecma_pattern(v) if k == "pattern" and isinstance(v, str) else _ecma_patterns(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_ecma_patterns(v) for v in node]
    return node


def struct_components(types: list[type]) -> dict[str, Any]:
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    return _ecma_patterns(components)


# -- paths --------------------------------------------------------------------------------------


def _body_schema(b: Body) -> dict[str, Any]:
    refs = [ref(t.__name__) for t in b.types]
    one = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"type": "array", "items": one} if b.many else one


def _answer(a: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": a.description}
    if a.headers:
        out["headers"] = {h: HEADERS[h] for h in a.headers}
    if a.body:
        out["content"] = {a.body.media: {"schema": _body_schema(a.body)}}
    return out


def _busy(op: Operation) -> tuple[int, ...]:
    """Every operation that writes (or reserves caps) may answer `503 busy`."""
    return (503,) if op.method != "get" or op.path in BUSY_TOO else ()


def operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.operation_id,
        "tags": list(op.tags),
        "parameters": [*(TENANT_PARAMETERS if op.tenant else ()), *op.parameters],
        "responses": {
            **{str(s): _answer(a) for s, a in op.answers.items()},
            **problems(*op.problems, *_busy(op)),
        },
    }
    if op.description:
        out["description"] = op.description
    if op.body:
        out["requestBody"] = {
            "required": True,
            "content": {op.body.media: {"schema": _body_schema(op.body)}},
        }
    if op.public:
        out["security"] = []
    out.update(op.extra)
    return out


def library_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for segment, specs in collections().items():
        if segment != specs[0].collection:
            continue  # aliases are served but not advertised
        title = " / ".join(s.title.lower() + "s" for s in specs)
        params = list(TENANT_PARAMETERS)
        if specs[0].discriminator:
            params.append(
                {
                    "name": specs[0].discriminator[0],
                    "in": "query",
                    "required": True,
                    "description": "Which kind of offer (case-insensitive).",
                    "schema": {"type": "string", "enum": [s.type_value for s in specs]},
                }
            )
        names = [_name(s) for s in specs]

        def one_of(suffix: str, names: list[str] = names) -> dict[str, Any]:
            refs = [ref(n + suffix) for n in names]
            return refs[0] if len(refs) == 1 else {"anyOf": refs}

        tag = [specs[0].collection]
        receipt = _json(ref("WriteReceipt"))
        etag = {"ETag": HEADERS["ETag"]}
        paths[f"{PREFIX}/{segment}"] = {
            "get": {
                "summary": f"List {title}",
                "operationId": f"list-{segment}",
                "tags": tag,
                "parameters": params + LIST_PARAMETERS,
                "responses": {
                    "200": {"description": "A page", "content": _json(one_of("List"))},
                    **problems(400, 401, 403),
                },
            },
            "post": {
                "summary": f"Create {title}",
                "operationId": f"create-{segment}",
                "tags": tag,
                "parameters": params,
                "requestBody": {"required": True, "content": _json(one_of(""))},
                "responses": {
                    "201": {"description": "Created", "headers": HEADERS, "content": receipt},
                    **problems(400, 401, 403, 413, 415, 422, 503),
                },
            },
        }
        item_params = [*params, ID_PARAMETER]
        if_match = {"name": "If-Match", "in": "header", "schema": {"type": "string"}}
        patch = one_of("Patch")
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
                        "headers": etag,
                        "content": _json(one_of("Read")),
                    },
                    "304": {"description": "Not modified (If-None-Match)"},
                    **problems(400, 401, 403, 404),
                },
            },
            "patch": {
                "summary": f"Update one of the {title} with JSON Patch",
                "description": "The body may also be sent as `application/json-patch+json`.",
                "operationId": f"patch-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "requestBody": {"required": True, "content": _json(patch)},
                "responses": {
                    "200": {"description": "Updated", "headers": etag, "content": receipt},
                    **problems(400, 401, 403, 404, 409, 412, 413, 415, 422, 503),
                },
            },
            "delete": {
                "summary": f"Delete one of the {title}",
                "operationId": f"delete-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "responses": {
                    "200": {"description": "Deleted (empty body)"},
                    **problems(400, 401, 403, 404, 409, 412, 503),
                },
            },
        }
        if any(s.replaceable for s in specs):
            item["put"] = {
                "summary": f"Replace one of the {title}",
                "operationId": f"replace-{segment}",
                "tags": tag,
                "parameters": [*item_params, if_match],
                "requestBody": {"required": True, "content": _json(one_of(""))},
                "responses": {
                    "200": {"description": "Replaced", "headers": etag, "content": receipt},
                    **problems(400, 401, 403, 404, 412, 413, 415, 422, 503),
                },
            }
        paths[f"{PREFIX}/{segment}/{{object_id}}"] = item
    return paths


def route_paths(ops: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method] = operation(op)
    return paths


def document(title: str, version: str, description: str) -> dict[str, Any]:
    """The whole OpenAPI document."""
    doc = get_openapi(title=title, version=version, description=description, routes=[])
    doc["paths"] = {**library_paths(), **route_paths()}
    doc["components"] = {
        "schemas": {**library_components(), **struct_components(_types_of(OPERATIONS))},
        "securitySchemes": SECURITY_SCHEMES,
    }
    doc["security"] = [{"bearer": [], "apiKey": []}]
    return doc


# -- wiring -------------------------------------------------------------------------------------


def swagger_assets() -> str:
    """Swagger UI's files as a package ships them (no CDN: /docs works offline)."""
    return str(resources.files("fastapi_offline") / "static")


def install(app: FastAPI) -> None:
    """Serve `/openapi.json` (built once, on first request) and `/docs` from local assets.

    The app must be built with `docs_url=None`: this adds its own `/docs`.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app.title, app.version, app.description)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_assets()), name="docs-assets")

    async def docs(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    app.add_route("/docs", docs, include_in_schema=False)
