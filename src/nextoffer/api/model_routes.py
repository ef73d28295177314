"""`/v1/ranking-strategies/{id}/model` and `/train`: a ranking model's state, and training now.

Models are not library objects (they are learnt, not written), so they live under `/v1`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nextoffer.api.context import call_of, json_response, offload, offload_write, services


async def model_state(request: Request) -> Response:
    call = call_of(request)
    strategy_id = request.path_params["strategy_id"]
    state = await offload(request, services(request).training.state, call.tenant, strategy_id)
    return json_response(state)


async def train_now(request: Request) -> Response:
    call = call_of(request)
    strategy_id = request.path_params["strategy_id"]
    svc = services(request)

    def train() -> dict:
        svc.decision_events.flush()  # what was decided until now counts
        return svc.training.train(call.tenant, strategy_id)

    return json_response(await offload_write(request, train))


def model_routes() -> list[Route]:
    return [
        Route("/v1/ranking-strategies/{strategy_id}/model", model_state, methods=["GET"]),
        Route("/v1/ranking-strategies/{strategy_id}/train", train_now, methods=["POST"]),
    ]
