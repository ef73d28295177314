"""Ranking models through the API: state, training, propensities in decision events, and the
learning test of issue 18 — a seeded simulation of visitors with hidden click rates."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nextoffer.composition import Services
from nextoffer.decisioning.model_training import LEASE_SECONDS
from tests.conftest import build_services
from tests.helpers import WEB, Api, assert_problem

HIDDEN_RATES = {"low": 0.02, "mid": 0.06, "best": 0.3}


def model_library(api: Api, *, status: str = "enabled", **training: Any) -> dict[str, Any]:
    """A live decision whose one criterion ranks three offers by an auto-optimization model."""
    settings = {"newOfferImpressions": 20, "newOfferConversions": 5, **training}
    strategy = api.strategy(status=status, training=settings)
    placement = api.placement(WEB, "html")
    offers = {name: api.offer([placement]) for name in HIDDEN_RATES}
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection(list(offers.values()))
    decision = api.create(
        "/offer-decisions",
        {
            "name": "models",
            "status": "live",
            "fallback": fallback,
            "criteria": [
                {
                    "placements": [placement],
                    "optionSelection": {"filter": collection},
                    "rank": {
                        "priority": 0,
                        "order": {
                            "orderEvaluationType": "rankingStrategy",
                            "rankingStrategy": strategy,
                        },
                    },
                }
            ],
        },
    )
    datastream = api.post("/v1/datastreams", {"name": "web", "allowedOrigins": []}).json()["id"]
    return {
        "strategy": strategy,
        "placement": placement,
        "decision": decision,
        "offers": offers,
        "names": {v: k for k, v in offers.items()},
        "datastream": datastream,
    }


def visit(api: Api, lib: dict[str, Any], visitor: str) -> dict[str, Any]:
    """One visitor's decision through the Edge, as a server calls it (credentialed)."""
    from nextoffer.wire.scopes import scope_token

    body = {
        "events": [
            {
                "xdm": {"identityMap": {"email": [{"id": visitor, "primary": True}]}},
                "query": {
                    "personalization": {
                        "decisionScopes": [scope_token(lib["decision"], lib["placement"])]
                    }
                },
            }
        ]
    }
    r = api.client.post(
        f"/ee/v2/interact?configId={lib['datastream']}",
        content=json.dumps(body).encode(),
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "Authorization": f"Bearer {api.token}",
            "x-api-key": api.api_key,
        },
    )
    assert r.status_code == 200, r.text
    [proposition] = r.json()["handle"][0]["payload"]
    return proposition


def feedback(visitor: str, proposition: dict[str, Any], kind: str) -> dict[str, Any]:
    event_type = {
        "display": "decisioning.propositionDisplay",
        "click": "decisioning.propositionInteract",
    }
    items = [{"id": i["id"]} for i in proposition["items"]]
    return {
        "xdm": {
            "eventType": event_type[kind],
            "identityMap": {"email": [{"id": visitor, "primary": True}]},
            "_experience": {
                "decisioning": {
                    "propositions": [
                        {"id": proposition["id"], "scope": proposition["scope"], "items": items}
                    ]
                }
            },
        }
    }


def simulate(api: Api, lib: dict[str, Any], rng: random.Random, visitors: int) -> Counter[str]:
    """Visitors decide, see their offer, click it with its hidden rate; what each was shown."""
    shown: Counter[str] = Counter()
    events = []
    for _ in range(visitors):
        visitor = f"v-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}@example.com"
        proposition = visit(api, lib, visitor)
        offer = lib["names"][proposition["items"][0]["id"]]
        shown[offer] += 1
        events.append(feedback(visitor, proposition, "display"))
        if rng.random() < HIDDEN_RATES[offer]:
            events.append(feedback(visitor, proposition, "click"))
    r = api.client.post(
        "/v1/events",
        content=b"\n".join(json.dumps(e).encode() for e in events),
        headers={**api.headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    return shown


def train(api: Api, strategy: str) -> dict[str, Any]:
    r = api.post(f"/v1/ranking-strategies/{strategy}/train", {})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_best_offer_comes_to_dominate(api: Api) -> None:
    rng = random.Random(18)
    lib = model_library(api, explorationShare=0.1)
    untrained = api.get(f"/v1/ranking-strategies/{lib['strategy']}/model").json()
    assert untrained["status"] == "untrained" and untrained["version"] is None
    first = simulate(api, lib, rng, 150)  # untrained: random
    assert min(first.values()) > 25, first
    state = train(api, lib["strategy"])
    assert state["status"] == "trained" and state["version"] == 1
    assert state["counts"]["impressions"] == 150
    by_offer = {lib["names"][o["offerId"]]: o for o in state["offers"]}
    assert sum(o["impressions"] for o in by_offer.values()) == 150
    assert by_offer["best"]["posterior"]["alpha"] == 1 + by_offer["best"]["conversions"]
    for _ in range(2):
        simulate(api, lib, rng, 120)
        state = train(api, lib["strategy"])
    assert state["version"] == 3 and state["serving"] == "thompson-sampling"
    last = simulate(api, lib, rng, 120)
    assert last["best"] > 0.75 * 120, last
    assert last.most_common(1)[0][0] == "best"


def test_decision_events_log_propensities_and_the_model(api: Api) -> None:
    lib = model_library(api)
    proposition = visit(api, lib, "p@example.com")
    events = api.get("/v1/decision-events", params={"activityId": lib["decision"]}).json()
    [event] = events["results"]
    [offer] = event["offers"]
    assert offer["id"] == proposition["items"][0]["id"]
    assert offer["propensity"] == pytest.approx(1 / 3)  # untrained: uniformly random
    assert offer["model"] == {"id": lib["strategy"], "version": None}


def test_explanations_show_the_draw_and_the_posterior_mean(api: Api) -> None:
    lib = model_library(api, explorationShare=0.0, newOfferImpressions=5)
    simulate(api, lib, random.Random(11), 40)
    state = train(api, lib["strategy"])
    assert state["serving"] == "thompson-sampling"
    means = {o["offerId"]: o["posterior"]["mean"] for o in state["offers"]}
    body = {
        "xdm:propositionRequests": [
            {"xdm:activityId": lib["decision"], "xdm:placementId": lib["placement"]}
        ],
        "xdm:profiles": [{"xdm:identityMap": {"Email": [{"xdm:id": "x@example.com"}]}}],
        "nextoffer:explain": True,
    }
    r = api.client.post("/data/core/ods/decisions", json=body, headers=api.headers)
    assert r.status_code == 200, r.text
    [prop] = r.json()["xdm:propositions"]
    [option] = prop["xdm:options"]
    first = prop["nextoffer:explanation"]["candidates"][0]
    assert first["offer"] == option["xdm:id"] and first["reason"] == "selected"
    model = first["model"]
    assert model["mode"] == "exploit" and model["version"] == 1
    assert model["sampled"] == first["score"] == option["xdm:score"]
    assert model["posteriorMean"] == pytest.approx(means[first["offer"]])


def test_a_disabled_strategy_serves_at_random(api: Api, services: Services) -> None:
    rng = random.Random(7)
    lib = model_library(api, status="disabled")
    simulate(api, lib, rng, 60)
    state = train(api, lib["strategy"])  # training on demand still works
    assert state["enabled"] is False and state["serving"].startswith("random")
    shown = simulate(api, lib, rng, 90)
    assert min(shown.values()) > 15, shown


def test_model_errors_name_the_strategy(api: Api) -> None:
    missing = "dps:ranking-strategy:0000000000000000"
    problem = assert_problem(
        api.get(f"/v1/ranking-strategies/{missing}/model"), 404, "unknown-ranking-strategy"
    )
    assert missing in problem["detail"]
    assert_problem(
        api.post(f"/v1/ranking-strategies/{missing}/train", {}), 404, "unknown-ranking-strategy"
    )
    formula = api.formula()
    assert_problem(
        api.get(f"/v1/ranking-strategies/{formula}/model"), 404, "unknown-ranking-strategy"
    )


def test_two_nodes_never_train_one_strategy_at_once(api: Api, services: Services) -> None:
    lib = model_library(api)
    pk = services.library.find_sandbox(_tenant(api)).pk
    lease = f"train:{pk}:{lib['strategy']}"
    store = services.training.store
    assert store.acquire(lease, "other-node:1", time.time(), 600)
    try:
        r = api.post(f"/v1/ranking-strategies/{lib['strategy']}/train", {})
        problem = assert_problem(r, 409, "training-in-progress")
        assert lib["strategy"] in problem["detail"]
    finally:
        store.release(lease, "other-node:1")
    assert train(api, lib["strategy"])["version"] == 1


def test_a_model_trained_on_one_node_serves_on_the_other(api: Api, database: Any) -> None:
    lib = model_library(api, explorationShare=0.0)
    rng = random.Random(3)
    simulate(api, lib, rng, 90)
    other: Services = build_services(database, model_max_age_ms=0)
    pk = other.library.find_sandbox(_tenant(api)).pk
    assert other.decisions.models.get(pk) == {}  # nothing trained yet
    train(api, lib["strategy"])  # on the first node
    served = other.decisions.models.get(pk)[lib["strategy"]]
    assert served.version == 1 and sum(a.impressions for a in served.arms.values()) == 90


KILLED_TRAINER = """
import sys, time
from nextoffer.tenants import Tenant
from tests.conftest import build_services

url, org, sandbox, strategy = sys.argv[1:]
from nextoffer.store.database import Database
services = build_services(Database(url))
store = services.training.store
real = store.feedback

def stalls(*args):
    events = real(*args)
    yield next(events)
    print("counting", flush=True)  # the lease is held and training is half-way
    time.sleep(600)
    yield from events

store.feedback = stalls
services.training.train(Tenant(org, sandbox), strategy)
"""


def test_a_killed_training_leaves_the_previous_model_serving(
    api: Api, services: Services, database: Any
) -> None:
    lib = model_library(api)
    simulate(api, lib, random.Random(5), 30)
    train(api, lib["strategy"])
    simulate(api, lib, random.Random(6), 30)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_TRAINER,
            str(database.url.render_as_string(False)),
            api.org,
            api.sandbox,
            lib["strategy"],
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "counting"
    finally:
        child.kill()  # SIGKILL: no cleanup of any kind runs
        child.wait()
    state = api.get(f"/v1/ranking-strategies/{lib['strategy']}/model").json()
    assert state["version"] == 1 and state["counts"]["impressions"] == 30
    # the dead trainer's lease is still there: nobody trains the strategy until it expires
    assert_problem(api.post(f"/v1/ranking-strategies/{lib['strategy']}/train", {}), 409)
    pk = services.library.find_sandbox(_tenant(api)).pk
    lease = f"train:{pk}:{lib['strategy']}"
    later = time.time() + LEASE_SECONDS + 1
    assert services.training.store.acquire(lease, services.training.holder, later, 5)
    services.training.store.release(lease, services.training.holder)
    assert train(api, lib["strategy"])["counts"]["impressions"] == 60


def _tenant(api: Api) -> Any:
    from nextoffer.tenants import Tenant

    return Tenant(api.org, api.sandbox)


def test_a_decision_ranked_by_no_model_never_reads_the_model_store(
    api: Api, services: Services
) -> None:
    """The model cache reads the store once a second per sandbox: only for decisions that
    rank by a model, never on the path of every other decision."""
    from nextoffer.store.sandbox_ids import SandboxIds
    from nextoffer.tenants import Tenant

    placement = api.placement(WEB, "html")
    collection = api.collection([api.offer([placement])])
    decision = api.create(
        "/offer-decisions",
        {
            "name": "priority only",
            "status": "live",
            "fallback": api.offer([placement], kind="fallback"),
            "criteria": [
                {
                    "placements": [placement],
                    "optionSelection": {"filter": collection},
                    "rank": {"priority": 0},
                }
            ],
        },
    )
    r = api.client.post(
        "/data/core/ods/decisions",
        json={
            "xdm:propositionRequests": [{"xdm:activityId": decision, "xdm:placementId": placement}],
            "xdm:profiles": [{"xdm:identityMap": {"Email": [{"xdm:id": "nobody@example.com"}]}}],
        },
        headers=api.headers,
    )
    assert r.status_code == 200, r.text
    pk = SandboxIds(services.db).find(Tenant(api.org, api.sandbox))
    cache = services.decisions.models
    assert pk is not None and cache is not None
    assert pk not in cache._cache  # no model read for a priority-ranked decision
    lib = model_library(api)
    visit(api, lib, "reader@example.com")
    assert pk in cache._cache  # a model-ranked one reads the sandbox's models
