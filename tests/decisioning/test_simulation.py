"""`POST /v1/simulations` and `nextoffer:at`: explained dry runs for one profile, at any time,
through the real app; nothing recorded, nothing counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nextoffer.demo.profiles import demo_profiles
from tests.decisioning.conftest import post, request_body, scope
from tests.helpers import Api

SIM = "/v1/simulations"
ADA = "email:ada.lovelace@example.com"
BRUNO = "email:bruno.silva@example.com"
LOUNGE = "dps:personalized-offer:gold-lounge"
HOMEPAGE = "dps:offer-activity:homepage-and-email"
HERO = "dps:offer-placement:web-hero"


@pytest.fixture
def people(demo: Api) -> Api:
    for profile in demo_profiles(datetime.now(UTC)):
        r = demo.post("/v1/profiles", profile)
        assert r.status_code == 201, r.text
    return demo


def simulate(api: Api, **body: object):
    return api.post(SIM, body)


def scope_of(answer: dict, activity: str, placement: str) -> dict:
    [found] = [
        p
        for p in answer["propositions"]
        if p["xdm:activity"]["xdm:id"] == activity and p["xdm:placement"]["xdm:id"] == placement
    ]
    return found


def candidate(prop: dict, offer: str) -> dict:
    [found] = [c for c in prop["nextoffer:explanation"]["candidates"] if c["offer"] == offer]
    return found


def test_every_placement_of_every_live_decision_is_explained(people: Api) -> None:
    r = simulate(people, profile=ADA, seed=1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile"]["found"] is True and body["profile"]["identity"] == ADA
    assert body["recorded"] is False and body["truncated"] is False
    scopes = [
        (p["xdm:activity"]["xdm:name"], p["xdm:placement"]["xdm:name"])
        for p in body["propositions"]
    ]
    assert scopes == [
        ("App home", "App card"),
        ("Homepage and email", "Homepage hero"),
        ("Homepage and email", "Email banner"),
    ]
    hero = scope_of(body, HOMEPAGE, HERO)
    [option] = hero["xdm:options"]
    assert option["xdm:id"] == LOUNGE and option["xdm:name"] == "Airport lounge pass"
    assert "xdm:content" in option
    assert candidate(hero, LOUNGE)["reason"] == "selected"
    assert body["names"][LOUNGE] == "Airport lounge pass"
    assert body["names"]["dps:personalized-offer:black-friday"] == "Black Friday: 40% off"


def test_an_outranked_offer_carries_its_score(people: Api) -> None:
    body = simulate(people, profile=ADA, seed=1).json()
    hero = scope_of(body, HOMEPAGE, HERO)
    outranked = candidate(hero, "dps:personalized-offer:double-points")
    assert outranked["reason"] == "outranked"
    assert outranked["score"] == 30.0 and outranked["rank"] == 2


def test_an_ineligible_offer_names_the_failing_part_and_its_values(people: Api) -> None:
    body = simulate(people, profile=BRUNO).json()
    lounge = candidate(scope_of(body, HOMEPAGE, HERO), LOUNGE)
    assert lounge["reason"] == "ineligible"
    rule = lounge["rule"]
    assert rule["id"] == "dps:eligibility-rule:gold-members"
    assert rule["failed"] == 'loyalty.tier = "gold"'
    assert rule["failedValue"] is False
    assert (rule["line"], rule["column"], rule["endLine"], rule["endColumn"]) == (1, 1, 1, 22)
    assert rule["operands"] == [{"source": "loyalty.tier", "value": "silver"}]
    assert "loyalty.tier is 'silver'" in lounge["detail"]


def test_a_capped_offer_shows_its_counter(people: Api) -> None:
    real = request_body(scope("homepage-and-email", "web-hero"))
    real["xdm:profiles"][0]["xdm:identityMap"] = {"email": [{"xdm:id": "ada.lovelace@example.com"}]}
    for _ in range(3):  # the lounge pass: at most 3 decisions a week per profile
        r = post(people, real)
        assert r.status_code == 200, r.text
    body = simulate(people, profile=ADA, decisions=[HOMEPAGE]).json()
    lounge = candidate(scope_of(body, HOMEPAGE, HERO), LOUNGE)
    assert lounge["reason"] == "capped"
    assert lounge["rule"]["count"] == 3 and lounge["rule"]["limit"] == 3
    assert "windowStart" in lounge["rule"] and "windowEnd" in lounge["rule"]


def test_nothing_is_recorded_or_counted(people: Api) -> None:
    for _ in range(5):  # past the lounge pass's cap of 3, were any of them counted
        body = simulate(people, profile=ADA, decisions=[HOMEPAGE]).json()
        hero = scope_of(body, HOMEPAGE, HERO)
        assert candidate(hero, LOUNGE)["reason"] == "selected"
    r = people.get("/v1/decision-events")
    assert r.status_code == 200
    assert r.json()["results"] == []
    # whereas one real decision is recorded and counted
    real = request_body(scope("homepage-and-email", "web-hero"))
    real["xdm:profiles"][0]["xdm:identityMap"] = {"email": [{"xdm:id": "ada.lovelace@example.com"}]}
    assert post(people, real).status_code == 200
    assert len(people.get("/v1/decision-events").json()["results"]) == 1
    body = simulate(people, profile=ADA, decisions=[HOMEPAGE]).json()
    assert candidate(scope_of(body, HOMEPAGE, HERO), LOUNGE)["reason"] == "selected"
    assert len(people.get("/v1/decision-events").json()["results"]) == 1


def test_the_time_decides(people: Api) -> None:
    body = simulate(people, profile=ADA, at="2031-06-01T00:00:00Z", decisions=[HOMEPAGE]).json()
    assert body["at"] == "2031-06-01T00:00:00.000+00:00"
    hero = scope_of(body, HOMEPAGE, HERO)
    assert hero["xdm:fallback"]["xdm:id"] == "dps:fallback-offer:welcome"
    assert "outside its start and end dates" in hero["nextoffer:explanation"]["note"]
    # the ranking formula doubles offers ending within 30 days of "now"
    body = simulate(people, profile=ADA, at="2030-12-15T00:00:00Z", decisions=[HOMEPAGE]).json()
    assert scope_of(body, HOMEPAGE, HERO)["xdm:options"][0]["xdm:score"] == 100.0


def test_an_inline_profile_and_context_are_used(people: Api) -> None:
    body = simulate(
        people,
        attributes={"loyalty": {"tier": "silver"}},
        contextData=[
            {
                "@type": "_xdm.context.additionalParameters;version=1",
                "xdm:data": {"channel": "mobile"},
            }
        ],
        decisions=["dps:offer-activity:app-home"],
    ).json()
    assert body["profile"] == {"identity": None, "profileId": None, "found": False, "inline": True}
    [app] = body["propositions"]
    offers = [o["xdm:id"] for o in app["xdm:options"]]
    assert "dps:personalized-offer:app-only" in offers and LOUNGE not in offers


def test_an_unknown_identity_decides_as_an_empty_profile(people: Api) -> None:
    body = simulate(people, profile="email:nobody@example.com").json()
    assert body["profile"]["found"] is False and body["profile"]["profileId"] is None
    lounge = candidate(scope_of(body, HOMEPAGE, HERO), LOUNGE)
    assert lounge["reason"] == "ineligible"
    assert lounge["rule"]["operands"] == [{"source": "loyalty.tier", "value": None}]


def test_a_draft_decision_can_be_simulated_by_name(people: Api) -> None:
    draft = people.create(
        "/offer-decisions",
        {
            "name": "Draft hero",
            "status": "draft",
            "criteria": [
                {
                    "placements": [HERO],
                    "optionSelection": {"filter": "dps:offer-filter:loyalty-offers"},
                    "profileConstraint": {"profileConstraintType": "none"},
                }
            ],
            "fallback": "dps:fallback-offer:welcome",
        },
    )
    everything = simulate(people, profile=ADA).json()
    assert draft not in {p["xdm:activity"]["xdm:id"] for p in everything["propositions"]}
    [prop] = simulate(people, profile=ADA, decisions=[draft]).json()["propositions"]
    assert prop["xdm:activity"]["xdm:name"] == "Draft hero"


def test_a_tenant_without_decisions_gets_nothing(api: Api) -> None:
    r = simulate(api, profile=ADA)
    assert r.status_code == 200
    assert r.json()["propositions"] == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"profile": "no-colon"}, "/profile"),
        ({"profile": "bad namespace:x"}, "/profile"),
        ({"profile": "email:"}, "/profile"),
        ({"at": "2030-01-01T00:00:00"}, "/at"),
        ({"at": "yesterday"}, "/at"),
        ({"decisions": []}, "/decisions"),
        ({"contextData": [{"xdm:data": {}}]}, "/contextData/0/@type"),
        ({"attributes": []}, "/attributes"),
        ({"shoeSize": 9}, ""),
    ],
)
def test_a_bad_request_is_400_naming_the_field(people: Api, body: dict, pointer: str) -> None:
    r = simulate(people, **body)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["errors"][0]["pointer"] == pointer
    assert problem["code"] in ("invalid-body", "invalid-input")


def test_an_unknown_decision_is_422_naming_it(people: Api) -> None:
    r = simulate(people, profile=ADA, decisions=[HOMEPAGE, "dps:offer-activity:nope"])
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "unknown-decision"
    assert problem["errors"][0]["pointer"] == "/decisions/1"


def test_media_type_and_credentials(people: Api) -> None:
    r = people.request("POST", SIM, content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = people.request("POST", SIM, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed-json"
    r = people.post(SIM, {}, headers={"x-api-key": "wrong"})
    assert r.status_code == 401


# -- nextoffer:at on the Decisioning API ----------------------------------------------------------


def test_the_decisioning_api_takes_a_time_for_dry_runs(demo: Api) -> None:
    body = request_body(
        scope("homepage-and-email", "web-hero"),
        **{"xdm:dryRun": True, "nextoffer:at": "2031-06-01T00:00:00+02:00"},
    )
    r = post(demo, body)
    assert r.status_code == 200, r.text
    [prop] = r.json()["xdm:propositions"]
    assert prop["xdm:fallback"]["xdm:id"] == "dps:fallback-offer:welcome"
    assert (
        r.json()["ode:createDate"] == int(datetime(2031, 5, 31, 22, tzinfo=UTC).timestamp()) * 1000
    )


def test_a_time_on_a_real_decision_is_400_naming_it(demo: Api) -> None:
    body = request_body(
        scope("homepage-and-email", "web-hero"), **{"nextoffer:at": "2031-06-01T00:00:00Z"}
    )
    r = post(demo, body)
    assert r.status_code == 400
    problem = r.json()
    assert problem["code"] == "invalid-input"
    assert problem["errors"][0]["pointer"] == "/nextoffer:at"


def test_a_time_without_an_offset_is_400(demo: Api) -> None:
    body = request_body(
        scope("homepage-and-email", "web-hero"),
        **{"xdm:dryRun": True, "nextoffer:at": "2031-06-01T00:00:00"},
    )
    r = post(demo, body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/nextoffer:at"


def test_a_v09_dry_run_takes_a_time_too(demo: Api) -> None:
    body = {
        "xdm:offerActivities": [{"xdm:offerActivity": "dps:offer-activity:homepage-and-email"}],
        "xdm:identityMap": {"Email": [{"xdm:id": "ada@example.com"}]},
        "xdm:dryRun": True,
        "nextoffer:at": "2031-06-01T00:00:00Z",
    }
    r = post(demo, body)
    assert r.status_code == 200, r.text
    [prop] = r.json()["xdm:propositions"]
    assert prop["xdm:fallbackOffer"] == "dps:fallback-offer:welcome"
    del body["xdm:dryRun"]
    r = post(demo, body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/nextoffer:at"
