"""`POST /v1/simulations`: what would this profile get -- explained dry runs of every live
decision (or those named) for a stored or inline profile, at any time; nothing is recorded or
counted."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.bodies import read_json_bytes
from nextoffer.api.context import call_of, json_response, offload, services
from nextoffer.api.msgspec_errors import decode
from nextoffer.decisioning.simulation import Simulation
from nextoffer.wire.simulations import (
    SimulationRequest,
    identity_of,
    inline_of,
    simulation_response,
)


async def simulate(request: Request) -> Response:
    call = call_of(request)
    svc = services(request)
    body = await read_json_bytes(request, svc.settings.max_body_bytes)
    req = decode(body, SimulationRequest, "the simulation request")
    assert isinstance(req, SimulationRequest)
    inline = inline_of(req)
    sim = Simulation(
        tenant=call.tenant,
        identity=identity_of(req.profile) if req.profile is not None else None,
        inline=inline,
        context={c.type: c.data for c in req.contextData},
        at=req.at,
        decisions=req.decisions,
        seed=req.seed,
    )
    done = await offload(request, svc.simulations.simulate, sim)
    return json_response(
        simulation_response(
            done.propositions,
            done.catalog,
            at=done.at,
            profile=req.profile,
            profile_id=done.profile_id,
            inline=inline is not None,
            truncated=done.truncated,
        )
    )


def simulation_routes() -> list[Route]:
    return [Route("/v1/simulations", simulate, methods=["POST"])]
