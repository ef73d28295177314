"""Ranking strategies (AI models) as library objects: shape, defaults, references, Adobe's rule."""

from __future__ import annotations

from typing import Any

import pytest

from nextoffer.library.portable import export_library, import_library
from nextoffer.tenants import Actor, Tenant
from tests.helpers import WEB, Api, assert_problem

ACTOR = Actor("importer@acme", "import-tool")

PATH = "/ranking-strategies"


def decision_body(api: Api, *models: str, priorities: tuple[int, ...] = ()) -> dict[str, Any]:
    placement = api.placement(WEB, "html")
    collection = api.collection([api.offer([placement])])
    criteria = []
    for i, model in enumerate(models):
        rank = {
            "priority": priorities[i] if priorities else 0,
            "order": {"orderEvaluationType": "rankingStrategy", "rankingStrategy": model},
        }
        criteria.append(
            {"placements": [placement], "optionSelection": {"filter": collection}, "rank": rank}
        )
    return {"name": "d", "criteria": criteria}


def test_defaults_are_filled_per_type(api: Api) -> None:
    auto = api.get(f"{PATH}/{api.strategy()}").json()
    assert auto["type"] == "auto-optimization" and auto["status"] == "enabled"
    assert auto["optimizationMetric"] == {
        "impressionEventType": "decisioning.propositionDisplay",
        "conversionEventType": "decisioning.propositionInteract",
    }
    assert auto["training"] == {
        "windowDays": 14,
        "newOfferImpressions": 100,
        "newOfferConversions": 5,
        "explorationShare": 0.1,
    }
    assert auto["id"].startswith("dps:ranking-strategy:")
    personalized = api.get(
        f"{PATH}/{api.strategy('personalized-optimization', audiences=['a', 'b'])}"
    ).json()
    assert personalized["training"]["windowDays"] == 30
    assert personalized["audiences"] == ["a", "b"]


def test_given_settings_are_kept(api: Api) -> None:
    sid = api.strategy(
        optimizationMetric={"conversionEventType": "commerce.purchases"},
        training={"windowDays": 7, "explorationShare": 0.0},
        status="disabled",
    )
    read = api.get(f"{PATH}/{sid}").json()
    assert read["optimizationMetric"]["conversionEventType"] == "commerce.purchases"
    assert read["optimizationMetric"]["impressionEventType"] == "decisioning.propositionDisplay"
    assert read["training"]["windowDays"] == 7 and read["training"]["explorationShare"] == 0.0
    assert read["status"] == "disabled"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "m", "type": "bandit"}, "/type"),
        ({"name": "m"}, "/type"),
        ({"name": "m", "type": "auto-optimization", "status": "on"}, "/status"),
        (
            {
                "name": "m",
                "type": "personalized-optimization",
                "audiences": ["a", "b", "c", "d", "e", "f"],
            },
            "/audiences",
        ),
        ({"name": "m", "type": "auto-optimization", "audiences": ["a"]}, ""),
        ({"name": "m", "type": "auto-optimization", "training": {"windowDays": 0}}, None),
        ({"name": "m", "type": "auto-optimization", "training": {"explorationShare": 2}}, None),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    api: Api, body: dict[str, Any], pointer: str | None
) -> None:
    problem = assert_problem(api.post(PATH, body), 400, "invalid-body")
    if pointer is not None:
        assert any(e["pointer"] == pointer for e in problem["errors"]), problem
    else:
        assert any(e["pointer"].startswith("/training/") for e in problem["errors"]), problem


def test_audiences_only_for_personalized_message(api: Api) -> None:
    r = api.post(PATH, {"name": "m", "type": "auto-optimization", "audiences": ["a"]})
    problem = assert_problem(r, 400, "invalid-body")
    assert "only used by personalized-optimization" in problem["errors"][0]["message"]


def test_type_cannot_change(api: Api) -> None:
    sid = api.strategy()
    r = api.patch(
        f"{PATH}/{sid}", [{"op": "replace", "path": "/type", "value": "personalized-optimization"}]
    )
    assert_problem(r, 422, pointer="/type")
    r = api.patch(f"{PATH}/{sid}", [{"op": "replace", "path": "/status", "value": "disabled"}])
    assert r.status_code == 200, r.text
    assert r.json()["etag"] == 2


def test_put_replaces_and_if_match_guards(api: Api) -> None:
    sid = api.strategy()
    r = api.put(f"{PATH}/{sid}", {"name": "renamed", "type": "auto-optimization"})
    assert r.status_code == 200, r.text
    assert api.get(f"{PATH}/{sid}").json()["name"] == "renamed"
    stale = api.put(
        f"{PATH}/{sid}", {"name": "x", "type": "auto-optimization"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412


def test_list_filters_and_tenancy(api: Api) -> None:
    api.strategy(name="alpha")
    api.strategy("personalized-optimization", name="beta")
    page = api.get(PATH, params={"property": "type==personalized-optimization"}).json()
    assert [s["name"] for s in page["results"]] == ["beta"]
    assert api.other_sandbox("dev").get(PATH).json()["total"] == 0


def test_unknown_strategy_in_a_decision_is_invalid_reference(api: Api) -> None:
    r = api.post("/offer-decisions", decision_body(api, "dps:ranking-strategy:0000000000000000"))
    assert_problem(r, 422, "invalid-reference", pointer="/criteria/0/rank/order/rankingStrategy")
    formula = api.formula()
    r = api.post("/offer-decisions", decision_body(api, formula))
    problem = assert_problem(r, 422, "invalid-reference")
    assert "is a ranking formula, not a ranking strategy" in problem["errors"][0]["message"]


def test_deleting_a_referenced_strategy_is_409(api: Api) -> None:
    sid = api.strategy()
    decision = api.create("/offer-decisions", decision_body(api, sid))
    assert_problem(api.delete(f"{PATH}/{sid}"), 409, "still-referenced")
    assert api.delete(f"/offer-decisions/{decision}").status_code == 200
    assert api.delete(f"{PATH}/{sid}").status_code == 200
    assert api.get(f"{PATH}/{sid}").status_code == 404


def test_one_model_per_priority_group(api: Api) -> None:
    a, b = api.strategy(), api.strategy()
    r = api.post("/offer-decisions", decision_body(api, a, b))
    problem = assert_problem(r, 422, pointer="/criteria/1/rank/order/rankingStrategy")
    assert problem["errors"][0]["code"] == "one-model-per-group"
    assert "must rank by the same model" in problem["errors"][0]["message"]
    # different priority groups may use different models, one group may share one model
    assert api.post("/offer-decisions", decision_body(api, a, b, priorities=(1, 0))).is_success
    assert api.post("/offer-decisions", decision_body(api, a, a)).is_success


def test_export_import_keeps_strategies_and_their_references(api: Api, services: Any) -> None:
    sid = api.strategy(training={"windowDays": 3})
    api.create("/offer-decisions", decision_body(api, sid))
    data = export_library(services.library, Tenant(api.org, api.sandbox))
    assert [s["id"] for s in data["objects"]["ranking-strategy"]] == [sid]
    result = import_library(services.library, Tenant(api.org, "copy"), ACTOR, data)
    assert result.created == len([o for v in data["objects"].values() for o in v])
    copy_api = api.other_sandbox("copy")
    assert copy_api.get(f"{PATH}/{sid}").json() == api.get(f"{PATH}/{sid}").json()
    assert_problem(copy_api.delete(f"{PATH}/{sid}"), 409, "still-referenced")
