"""`GET /v1/decision-events`: decision events read back, filtered, newest first, paged."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.context import call_of, json_response, offload_write, services
from nextoffer.errors import InvalidInput
from nextoffer.library.query import parse_limit
from nextoffer.records.decision_events import EventFilter, decode_cursor
from nextoffer.timeutil import DateTimeFormatError, parse_rfc3339

FILTERS = ("profileId", "identity", "activityId", "placementId", "offerId", "since", "until")


def _instant(raw: str | None, parameter: str) -> datetime | None:
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except DateTimeFormatError as exc:
        raise InvalidInput.at(str(exc), parameter=parameter, code="bad-filter") from None


def _identity(raw: str | None) -> tuple[str, str] | None:
    if raw is None:
        return None
    namespace, sep, value = raw.partition(":")
    if not sep or not namespace or not value:
        raise InvalidInput.at(
            "identity is NAMESPACE:ID, e.g. email:ada@example.com",
            parameter="identity",
            code="bad-filter",
        )
    return namespace, value


def filters_of(request: Request) -> EventFilter:
    params = request.query_params
    for name in FILTERS:
        if "\x00" in params.get(name, ""):  # no database stores it: a 400, not a 500
            raise InvalidInput.at(
                "a filter may not contain the NUL character", parameter=name, code="bad-filter"
            )
    return EventFilter(
        profile_id=params.get("profileId"),
        identity=_identity(params.get("identity")),
        activity_id=params.get("activityId"),
        placement_id=params.get("placementId"),
        offer_id=params.get("offerId"),
        since=_instant(params.get("since"), "since"),
        until=_instant(params.get("until"), "until"),
    )


async def list_events(request: Request) -> Response:
    call = call_of(request)
    params = request.query_params
    filters = filters_of(request)
    limit = parse_limit(params.get("limit"))
    token = params.get("start")
    if token is not None:
        decode_cursor(token)  # a bad cursor is a 400 before any work
    log = services(request).decision_events
    # the query first writes the buffered events: a write, in the write lane
    page = await offload_write(
        request, lambda: log.query(call.tenant, filters, limit=limit, cursor=token)
    )
    base = [(name, params[name]) for name in FILTERS if name in params]
    base.append(("limit", str(limit)))

    def link(start: str | None) -> dict[str, str]:
        query = base + ([("start", start)] if start else [])
        return {"href": f"/v1/decision-events?{urlencode(query)}", "type": "application/json"}

    links = {"self": link(token)}
    if page.next_cursor:
        links["next"] = link(page.next_cursor)
    return json_response(
        {
            "results": [e.as_dict() for e in page.items],
            "count": len(page.items),
            "_links": links,
        }
    )


def decision_event_routes() -> list[Route]:
    return [Route("/v1/decision-events", list_events, methods=["GET"])]
