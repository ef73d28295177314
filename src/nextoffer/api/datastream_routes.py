"""`/v1/datastreams`: a tenant creates the datastreams its web pages call the Edge with."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_json
from nextoffer.api.context import call_of, json_response, offload, offload_write, services
from nextoffer.api.preconditions import if_match


async def collection(request: Request) -> Response:
    call = call_of(request, creates=request.method == "POST")
    svc = services(request)
    if request.method == "GET":
        items = await offload(request, svc.datastream_admin.list, call.tenant)
        return json_response({"results": items, "count": len(items)})
    body = await read_json(request, svc.settings.max_body_bytes)
    doc = await offload_write(request, svc.datastream_admin.create, call.tenant, body)
    headers = {"Location": f"/v1/datastreams/{doc['id']}", "ETag": f'"{doc["etag"]}"'}
    return json_response(doc, 201, headers)


async def item(request: Request) -> Response:
    call = call_of(request)
    svc = services(request)
    admin = svc.datastream_admin
    datastream_id = request.path_params["datastream_id"]
    if request.method == "GET":
        doc = await offload(request, admin.get, call.tenant, datastream_id)
        return json_response(doc, 200, {"ETag": f'"{doc["etag"]}"'})
    if request.method == "DELETE":
        await offload_write(request, admin.delete, call.tenant, datastream_id)
        return Response(status_code=200)
    patch = await read_json(request, svc.settings.max_body_bytes)
    doc = await offload_write(
        request, admin.update, call.tenant, datastream_id, patch, if_match(request)
    )
    return json_response(doc, 200, {"ETag": f'"{doc["etag"]}"'})


def datastream_routes() -> list[Route]:
    return [
        Route("/v1/datastreams", collection, methods=["GET", "POST"]),
        Route("/v1/datastreams/{datastream_id}", item, methods=["GET", "PATCH", "DELETE"]),
    ]
