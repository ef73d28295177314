"""The Offer Library API under `/data/core/dps`: one generic resource per collection path.

Routes are generated from the `EntitySpec` declarations; `/offers` serves two entities told
apart by `offer-type`. Handlers are thin: parse the HTTP request, call `LibraryService` in a
worker thread, shape the HTTP response.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_json
from nextoffer.api.context import (
    call_of,
    is_object_id,
    json_response,
    offload,
    offload_write,
    services,
)
from nextoffer.api.preconditions import if_match, if_none_match
from nextoffer.errors import InvalidInput, MethodNotAllowed, NotFound
from nextoffer.library.entities import ENTITIES, EntitySpec
from nextoffer.library.query import (
    Cursor,
    ListQuery,
    Page,
    order_text,
    parse_filters,
    parse_limit,
    parse_orderby,
)

PREFIX = "/data/core/dps"


def collections() -> dict[str, tuple[EntitySpec, ...]]:
    """Collection path segment -> the entities it serves (aliases included)."""
    out: dict[str, list[EntitySpec]] = {}
    for spec in ENTITIES:
        for segment in (spec.collection, *spec.aliases):
            out.setdefault(segment, []).append(spec)
    return {k: tuple(v) for k, v in out.items()}


def etag_header(etag: int) -> dict[str, str]:
    return {"ETag": f'"{etag}"'}


class CollectionResource:
    """Every verb of one collection path: one entity, or several told apart by a parameter."""

    def __init__(self, segment: str, specs: Sequence[EntitySpec]) -> None:
        self.segment = segment
        self.specs = tuple(specs)
        self.discriminator = specs[0].discriminator[0] if specs[0].discriminator else None

    def spec_for(self, request: Request) -> EntitySpec:
        if self.discriminator is None:
            return self.specs[0]
        value = request.query_params.get(self.discriminator)
        for spec in self.specs:
            if value is not None and value.lower() == spec.type_value:
                return spec
        choices = " or ".join(s.type_value or "" for s in self.specs)
        raise InvalidInput.at(
            f"{self.discriminator} must be {choices}"
            + ("" if value is None else f", not {value!r}"),
            parameter=self.discriminator,
            code="bad-offer-type",
        )

    def location(self, spec: EntitySpec, object_id: str) -> str:
        suffix = f"?{self.discriminator}={spec.type_value}" if self.discriminator else ""
        return f"{PREFIX}/{spec.collection}/{object_id}{suffix}"

    def _object_id(self, request: Request, spec: EntitySpec) -> str:
        object_id = request.path_params["object_id"]
        if not is_object_id(object_id):
            raise NotFound.at(
                f"there is no {spec.title.lower()} {object_id!r} in this sandbox", parameter="id"
            )
        return object_id

    # -- collection ---------------------------------------------------------------------------

    async def list(self, request: Request) -> Response:
        call = call_of(request)
        spec = self.spec_for(request)
        params = request.query_params
        order = parse_orderby(params.get("orderby", params.get("orderBy")))
        cursor_param = "start" if "start" in params else "href"
        token = params.get(cursor_param)
        query = ListQuery(
            filters=parse_filters(params.getlist("property")),
            order=order,
            limit=parse_limit(params.get("limit")),
            cursor=Cursor.decode(token, cursor_param) if token else None,
        )
        page = await offload(request, services(request).library.list, call.tenant, spec, query)
        return json_response(self.envelope(request, spec, query, page, token))

    def envelope(
        self, request: Request, spec: EntitySpec, query: ListQuery, page: Page, token: str | None
    ) -> dict[str, object]:
        base: list[tuple[str, str]] = []
        if self.discriminator:
            base.append((self.discriminator, request.query_params[self.discriminator]))
        base += [("property", p) for p in request.query_params.getlist("property")]
        base += [("orderby", order_text(query.order)), ("limit", str(query.limit))]

        def link(start: str | None) -> dict[str, str]:
            params = base + ([("start", start)] if start else [])
            return {"href": f"/{self.segment}?{urlencode(params)}", "type": "application/json"}

        links = {"self": link(token)}
        if page.next_cursor:
            links["next"] = link(page.next_cursor)
        if page.prev_cursor:
            links["prev"] = link(page.prev_cursor)
        return {
            "results": page.items,
            "count": len(page.items),
            "total": page.total,
            "_links": links,
        }

    async def create(self, request: Request) -> Response:
        call = call_of(request, creates=True)
        spec = self.spec_for(request)
        svc = services(request)
        body = await read_json(request, svc.settings.max_body_bytes)
        written = await offload_write(
            request, svc.library.create, call.tenant, call.actor, spec, body
        )
        headers = {
            "Location": self.location(spec, written.doc["id"]),
            **etag_header(written.doc["etag"]),
        }
        return json_response(written.receipt, 201, headers)

    # -- items --------------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        call = call_of(request)
        spec = self.spec_for(request)
        object_id = self._object_id(request, spec)
        doc = await offload(request, services(request).library.get, call.tenant, spec, object_id)
        headers = etag_header(doc["etag"])
        unless = if_none_match(request)
        if unless is not None and unless.matches(doc["etag"]):
            return Response(status_code=304, headers=headers)
        return json_response(doc, 200, headers)

    async def patch(self, request: Request) -> Response:
        call = call_of(request)
        spec = self.spec_for(request)
        object_id = self._object_id(request, spec)
        svc = services(request)
        body = await read_json(request, svc.settings.max_body_bytes)
        expected_etag = if_match(request)
        if isinstance(body, dict) and spec.replaceable:
            # the docs' curl PATCHes ranking formulas and rules with a whole object (AMB-12)
            method = svc.library.replace
        else:
            method = svc.library.patch
        written = await offload_write(
            request, method, call.tenant, call.actor, spec, object_id, body, expected_etag
        )
        return json_response(written.receipt, 200, etag_header(written.doc["etag"]))

    async def put(self, request: Request) -> Response:
        call = call_of(request)
        spec = self.spec_for(request)
        object_id = self._object_id(request, spec)
        svc = services(request)
        body = await read_json(request, svc.settings.max_body_bytes)
        written = await offload_write(
            request,
            svc.library.replace,
            call.tenant,
            call.actor,
            spec,
            object_id,
            body,
            if_match(request),
        )
        return json_response(written.receipt, 200, etag_header(written.doc["etag"]))

    async def delete(self, request: Request) -> Response:
        call = call_of(request)
        spec = self.spec_for(request)
        object_id = self._object_id(request, spec)
        await offload_write(
            request,
            services(request).library.delete,
            call.tenant,
            call.actor,
            spec,
            object_id,
            if_match(request),
        )
        return Response(status_code=200)


def library_routes() -> list[Route]:
    """Two routes for the whole library; the collection segment picks the resource.

    One dictionary lookup instead of matching ~50 generated routes keeps routing off the
    profile of every request.
    """
    resources = {
        segment: CollectionResource(segment, specs) for segment, specs in collections().items()
    }

    def resource_of(request: Request) -> CollectionResource:
        resource = resources.get(request.path_params["collection"])
        if resource is None:
            raise NotFound.at(
                f"no such collection {request.path_params['collection']!r} under {PREFIX}; "
                f"collections are {', '.join(sorted(resources))}",
                parameter="path",
            )
        return resource

    async def collection(request: Request) -> Response:
        resource = resource_of(request)
        if request.method in ("GET", "HEAD"):
            return await resource.list(request)
        return await resource.create(request)

    async def item(request: Request) -> Response:
        resource = resource_of(request)
        method = request.method
        if method in ("GET", "HEAD"):
            return await resource.get(request)
        if method == "PATCH":
            return await resource.patch(request)
        if method == "DELETE":
            return await resource.delete(request)
        if any(s.replaceable for s in resource.specs):
            return await resource.put(request)
        raise MethodNotAllowed.at(
            f"{resource.segment} are not replaced with PUT; use PATCH with a JSON Patch",
            parameter="method",
            allow="GET, PATCH, DELETE",
        )

    return [
        Route(f"{PREFIX}/{{collection}}", collection, methods=["GET", "POST"]),
        Route(
            f"{PREFIX}/{{collection}}/{{object_id}}",
            item,
            methods=["GET", "PATCH", "PUT", "DELETE"],
        ),
    ]
