"""Decisions read stored profiles (found by any identity) and write decision events, which
`GET /v1/decision-events` reads back with filters; dry runs and explanations write none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.decisioning.conftest import post, scope
from tests.helpers import Api, assert_problem

LOUNGE = "dps:personalized-offer:gold-lounge"
HERO = "dps:offer-placement:web-hero"
CARD = "dps:offer-placement:app-card"
HOME = "dps:offer-activity:homepage-and-email"
APP = "dps:offer-activity:app-home"


def ada(demo: Api) -> str:
    r = demo.put(
        "/v1/profiles/email/ada@example.com",
        {
            "identityMap": {"ecid": [{"id": "E-42"}]},
            "attributes": {"loyalty": {"tier": "gold"}, "homeAddress": {"countryCode": "US"}},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["profileId"]


def decide(demo: Api, identity_map: dict, *scopes: dict, **extra: object) -> dict:
    body = {
        "xdm:propositionRequests": list(scopes),
        "xdm:profiles": [{"xdm:identityMap": identity_map}],
        **extra,
    }
    r = post(demo, body)
    assert r.status_code == 200, r.text
    return r.json()


def events(demo: Api, **params: str) -> list[dict]:
    r = demo.get("/v1/decision-events", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def test_a_stored_profile_is_found_through_its_second_identity(demo: Api) -> None:
    ada(demo)
    unknown = decide(
        demo, {"ECID": [{"xdm:id": "nobody"}]}, scope("homepage-and-email", "web-hero")
    )
    assert [o["xdm:id"] for o in unknown["xdm:propositions"][0]["xdm:options"]] != [LOUNGE]
    known = decide(
        demo,
        {
            "Email": [{"xdm:id": "nobody@example.com"}],
            "ECID": [{"xdm:id": "E-42", "primary": True}],
        },
        scope("homepage-and-email", "web-hero"),
        **{"xdm:dryRun": True},
    )
    assert [o["xdm:id"] for o in known["xdm:propositions"][0]["xdm:options"]] == [LOUNGE]


def test_profile_segments_and_events_drive_rules(demo: Api) -> None:
    audience_rule = demo.rule('inSegment("frequent-flyers")')
    events_rule = demo.rule(
        '(select e from xEvent where e.eventType = "commerce.purchases").count() > 0'
    )
    placement = demo.placement()
    fallback = demo.offer([placement], kind="fallback")
    flyers = demo.offer(
        [placement],
        selectionConstraint={
            "startDate": "2024-01-01T00:00:00.000+00:00",
            "endDate": "2034-01-01T00:00:00.000+00:00",
            "profileConstraintType": "eligibilityRule",
            "eligibilityRule": audience_rule,
        },
    )
    buyers = demo.offer(
        [placement],
        selectionConstraint={
            "startDate": "2024-01-01T00:00:00.000+00:00",
            "endDate": "2034-01-01T00:00:00.000+00:00",
            "profileConstraintType": "eligibilityRule",
            "eligibilityRule": events_rule,
        },
    )
    decision = demo.decision(
        [placement], demo.collection([flyers, buyers]), fallback, status="live"
    )
    request = {"xdm:activityId": decision, "xdm:placementId": placement, "xdm:itemCount": 2}
    now = datetime.now(UTC)

    def offered(identity: str) -> set[str]:
        out = decide(demo, {"email": [{"xdm:id": identity}]}, request, **{"xdm:dryRun": True})
        return {o["xdm:id"] for o in out["xdm:propositions"][0].get("xdm:options", [])}

    demo.put("/v1/profiles/email/flyer", {"segments": {"frequent-flyers": "realized"}})
    demo.put("/v1/profiles/email/exited", {"segments": {"frequent-flyers": "exited"}})
    demo.put(
        "/v1/profiles/email/buyer",
        {"events": [{"eventType": "commerce.purchases", "timestamp": now.isoformat()}]},
    )
    old = (now - timedelta(days=45)).isoformat()
    demo.put(
        "/v1/profiles/email/lapsed",
        {"events": [{"eventType": "commerce.purchases", "timestamp": old}]},
    )
    assert offered("flyer") == {flyers}
    assert offered("exited") == set()
    assert offered("buyer") == {buyers}
    assert offered("lapsed") == set()  # the purchase is older than the event window


def test_decisions_write_events_except_dry_runs_and_explanations(demo: Api) -> None:
    profile_id = ada(demo)
    scopes = (scope("homepage-and-email", "web-hero"), scope("app-home", "app-card", 2))
    identity = {"ecid": [{"xdm:id": "E-42"}]}
    decide(demo, identity, *scopes, **{"xdm:dryRun": True})
    decide(demo, identity, *scopes, **{"nextoffer:explain": True})
    assert events(demo) == []
    real = decide(demo, identity, *scopes)
    anonymous = decide(demo, {"email": [{"xdm:id": "who@example.com"}]}, scopes[0])
    found = events(demo)
    assert len(found) == 3
    mine = [e for e in found if e["profileId"] == profile_id]
    assert {(e["activityId"], e["placementId"]) for e in mine} == {(HOME, HERO), (APP, CARD)}
    hero = next(e for e in mine if e["placementId"] == HERO)
    assert hero["identity"] == {"namespace": "ecid", "id": "E-42"}
    assert hero["offers"][0] == {
        "id": LOUNGE,
        "rank": 1,
        "score": 50,
        "propensity": 1.0,
        "model": None,
    }
    assert hero["fallbackId"] is None and hero["requestId"] == real["xdm:propositionId"]
    card = next(e for e in mine if e["placementId"] == CARD)
    assert [o["rank"] for o in card["offers"]] == list(range(1, len(card["offers"]) + 1))
    [other] = [e for e in found if e["profileId"] is None]
    assert other["identity"] == {"namespace": "email", "id": "who@example.com"}
    assert other["requestId"] == anonymous["xdm:propositionId"]
    stamps = [e["timestamp"] for e in found]
    assert stamps == sorted(stamps, reverse=True)


def test_decision_events_filters_and_paging(demo: Api) -> None:
    profile_id = ada(demo)
    for _ in range(3):
        decide(demo, {"ecid": [{"xdm:id": "E-42"}]}, scope("homepage-and-email", "web-hero"))
    decide(demo, {"email": [{"xdm:id": "x@example.com"}]}, scope("app-home", "app-card"))
    assert len(events(demo)) == 4
    assert len(events(demo, profileId=profile_id)) == 3
    assert len(events(demo, identity="ECID:E-42")) == 3
    assert len(events(demo, identity="email:x@example.com")) == 1
    assert len(events(demo, activityId=APP)) == 1
    assert len(events(demo, placementId=HERO)) == 3
    assert len(events(demo, offerId=LOUNGE)) == 3
    assert events(demo, offerId="dps:personalized-offer:nope") == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert len(events(demo, since=past)) == 4
    assert events(demo, since=future) == []
    assert events(demo, until=past) == []
    assert len(events(demo, until=future, placementId=HERO, profileId=profile_id)) == 3
    # paging: two pages of two, in the same order as one page of four
    everything = [e["propositionId"] for e in events(demo)]
    first = demo.get("/v1/decision-events", params={"limit": "2"}).json()
    assert first["count"] == 2 and "next" in first["_links"]
    second = demo.get(first["_links"]["next"]["href"]).json()
    assert [e["propositionId"] for e in first["results"] + second["results"]] == everything
    assert "next" not in second["_links"]
    # another tenant sees none of them
    assert events(demo.other_sandbox("dev")) == []


def test_decision_events_errors(demo: Api) -> None:
    def get(**params: str):
        return demo.get("/v1/decision-events", params=params)

    assert_problem(get(since="yesterday"), 400, "bad-filter", parameter="since")
    assert_problem(get(until="2020-01-01"), 400, "bad-filter", parameter="until")
    assert_problem(get(identity="no-namespace"), 400, "bad-filter", parameter="identity")
    assert_problem(get(identity="email:\x00"), 400, "bad-filter", parameter="identity")
    assert_problem(get(offerId="a\x00"), 400, "bad-filter", parameter="offerId")
    assert_problem(get(limit="0"), 400, "bad-limit", parameter="limit")
    assert_problem(get(limit="1001"), 400, "bad-limit", parameter="limit")
    assert_problem(get(start="garbage"), 400, "bad-cursor", parameter="start")
    assert_problem(demo.get("/v1/decision-events", headers={"x-api-key": "wrong"}), 401)
