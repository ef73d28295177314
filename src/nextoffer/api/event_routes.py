"""`POST /v1/events`: experience events in bulk (JSON Lines or a JSON array), for servers and
data pipelines.

Each line is one event, either `{"xdm": {...}}` as the Edge takes it or the bare XDM object.
The whole body is checked first (a pointer's first segment is the 1-based line number, or an
array's 0-based index; `line` is 1-based in both); then
every event is kept and counted, exactly as the Edge endpoints would. `?dryRun=true` checks only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import is_json_array_body, read_items
from nextoffer.api.context import call_of, json_response, offload_write, services
from nextoffer.errors import InvalidInput
from nextoffer.wire.events import parse_event


async def post_events(request: Request) -> Response:
    call = call_of(request)
    svc = services(request)
    lines = await read_items(request, svc.settings.max_body_bytes, "events")
    first = -1 if is_json_array_body(request) else 0  # an array's pointers count from 0
    now = svc.decisions.clock()
    events = []
    for line in lines:
        number, value = line.number, line.value
        at = number + first
        if isinstance(value, dict) and isinstance(value.get("xdm"), dict):
            xdm, pointer = value["xdm"], f"/{at}/xdm"
        else:
            xdm, pointer = value, f"/{at}"
        try:
            events.append(parse_event(xdm, pointer, now))
        except InvalidInput as exc:
            detail = f"line {number}: {exc.detail}"
            raise InvalidInput(detail, exc.code, exc.errors, {"line": number}) from None
    dry = request.query_params.get("dryRun", "false").lower() == "true"
    result = await offload_write(request, svc.feedback.ingest, call.tenant, events, dry)
    return json_response({**result.as_dict(), "dryRun": dry})


def event_routes() -> list[Route]:
    return [Route("/v1/events", post_events, methods=["POST"])]
