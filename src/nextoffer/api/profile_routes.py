"""`/v1/profiles`: upsert (whole or merge-patch), read and delete a profile by any identity,
and load many from JSON Lines (checked whole, then written in short steps)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from urllib.parse import quote

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import (
    body_chunks,
    is_json_array_body,
    is_json_media_type,
    read_json,
    require_jsonl,
)
from nextoffer.api.context import call_of, json_response, offload, offload_write, services
from nextoffer.api.preconditions import if_match
from nextoffer.errors import InvalidInput, UnsupportedMediaType
from nextoffer.profiles.documents import MAX_ID_LENGTH, is_namespace, parse_profile, read_model
from nextoffer.profiles.merge import Written

MERGE_PATCH = "application/merge-patch+json"


class IdentityConvertor(PathConvertor):
    """The rest of the path, whatever it holds: an identity may contain `/` and even a line
    break (`:path` stops at one, and the route would answer "no such endpoint")."""

    regex = r"[\s\S]*"


register_url_convertor("identity", IdentityConvertor())


def identity_of(request: Request) -> tuple[str, str]:
    namespace = request.path_params["namespace"]
    identity = request.path_params["identity"]
    if not is_namespace(namespace):
        raise InvalidInput.at(
            "a namespace is 1 to 128 letters, digits, '_', '.' or '-'", parameter="namespace"
        )
    if not identity or len(identity) > MAX_ID_LENGTH:
        raise InvalidInput.at(
            f"an identity has 1 to {MAX_ID_LENGTH} characters", parameter="identity"
        )
    if "\x00" in identity:
        raise InvalidInput.at(
            "an identity may not contain the NUL character (%00)", parameter="identity"
        )
    return namespace, identity


def written(result: Written) -> Response:
    profile = result.profile
    headers = {"ETag": f'"{profile.etag}"'}
    if result.created:
        ns, ids = next(iter(profile.identities.items()))
        headers["Location"] = f"/v1/profiles/{ns}/{quote(ids[0], safe='@')}"
    return json_response(read_model(profile), 201 if result.created else 200, headers)


async def create(request: Request) -> Response:
    """POST /v1/profiles: upsert the profile its identityMap names."""
    call = call_of(request, creates=True)
    svc = services(request)
    body = await read_json(request, svc.settings.max_body_bytes)
    data = parse_profile(body)
    expected_etag = if_match(request)
    result = await offload_write(
        request, lambda: svc.profiles.put(call.tenant, data, expected_etag=expected_etag)
    )
    return written(result)


async def item(request: Request) -> Response:
    call = call_of(request, creates=request.method == "PUT")
    svc = services(request)
    key = identity_of(request)
    expected_etag = if_match(request)
    if request.method == "GET":
        profile = await offload(request, svc.profiles.get, call.tenant, key)
        return json_response(read_model(profile), 200, {"ETag": f'"{profile.etag}"'})
    if request.method == "DELETE":
        await offload_write(
            request, lambda: svc.profiles.delete(call.tenant, key, expected_etag=expected_etag)
        )
        return Response(status_code=200)
    body = await read_json(request, svc.settings.max_body_bytes)
    if request.method == "PUT":
        data = parse_profile(body, extra_identities=[key])
        result = await offload_write(
            request,
            lambda: svc.profiles.put(call.tenant, data, key=key, expected_etag=expected_etag),
        )
    else:
        result = await offload_write(
            request, lambda: svc.profiles.patch(call.tenant, key, body, expected_etag=expected_etag)
        )
    return written(result)


async def bulk(request: Request) -> Response:
    """POST /v1/profiles/bulk: JSON Lines, one profile per line (or a JSON array of profiles),
    checked whole (a bad line: nothing written), then written in short steps.

    The body is spooled to a file as it arrives, never parsed here: a large load runs in a
    worker process (`store/profile_loads.py`), a small one in the write lane."""
    call = call_of(request, creates=True)
    svc = services(request)
    body = "json" if is_json_array_body(request) else "jsonl"
    if body == "jsonl":
        require_jsonl(request, "profiles")
    with tempfile.NamedTemporaryFile(prefix="nextoffer-bulk-") as spool:
        async for chunk in body_chunks(request, svc.settings.max_bulk_bytes):
            spool.write(chunk)
        spool.flush()
        path = Path(spool.name)
        loads = svc.profile_loads
        if loads.in_worker(spool.tell()):
            result = await asyncio.wrap_future(loads.submit(call.tenant, path, body))
        else:
            result = await offload_write(request, loads.load_here, call.tenant, path, body)
    return json_response(result.as_dict())


async def merge_patch_only(request: Request) -> Response:
    """PATCH takes a JSON merge patch; application/json is read as one too."""
    media = request.headers.get("content-type")
    if not is_json_media_type(media) or (media and "json-patch+json" in media.lower()):
        raise UnsupportedMediaType.at(
            f"send the patch as {MERGE_PATCH} (a JSON merge patch)", parameter="Content-Type"
        )
    return await item(request)


async def dispatch_item(request: Request) -> Response:
    if request.method == "PATCH":
        return await merge_patch_only(request)
    return await item(request)


def profile_routes() -> list[Route]:
    return [
        Route("/v1/profiles", create, methods=["POST"]),
        Route("/v1/profiles/bulk", bulk, methods=["POST"]),
        Route("/v1/profiles:bulk", bulk, methods=["POST"]),
        Route(
            "/v1/profiles/{namespace}/{identity:identity}",
            dispatch_item,
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
    ]
