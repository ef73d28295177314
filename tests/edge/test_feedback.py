"""Feedback events through the Edge and `/v1/events`: checked whole, then kept on the profile."""

from __future__ import annotations

import json
from typing import Any

from tests.edge.conftest import scope
from tests.helpers import Api, assert_problem

EMAIL = "fan@example.com"
IDENTITY = {"email": [{"id": EMAIL, "primary": True}]}


def call(edge: dict, action: str, events: list[dict], *, credentials: bool = False) -> Any:
    """A page's call, or (`credentials`: what a dry run needs) a server's."""
    api: Api = edge["api"]
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    if credentials:
        headers.update({"Authorization": f"Bearer {api.token}", "x-api-key": api.api_key})
    return api.client.post(
        f"/ee/v2/{action}?configId={edge['datastream']}",
        content=json.dumps({"events": events}).encode(),
        headers=headers,
    )


def decide(edge: dict) -> dict:
    """One hero proposition for EMAIL, as the Web SDK would ask for it."""
    r = call(
        edge,
        "interact",
        [
            {
                "xdm": {"identityMap": IDENTITY},
                "query": {
                    "personalization": {"decisionScopes": [scope("homepage-and-email", "web-hero")]}
                },
            }
        ],
    )
    assert r.status_code == 200, r.text
    [proposition] = r.json()["handle"][0]["payload"]
    return proposition


def notification(kind: str, proposition: dict, offers: list[str] | None = None) -> dict:
    items = [{"id": o} for o in (offers or [i["id"] for i in proposition["items"]])]
    event_type = {
        "display": "decisioning.propositionDisplay",
        "interact": "decisioning.propositionInteract",
    }
    return {
        "xdm": {
            "eventType": event_type[kind],
            "identityMap": IDENTITY,
            "_experience": {
                "decisioning": {
                    "propositions": [
                        {"id": proposition["id"], "scope": proposition["scope"], "items": items}
                    ],
                    "propositionEventType": {kind: 1},
                }
            },
        }
    }


def kept_events(edge: dict) -> list[dict]:
    r = edge["api"].get(f"/v1/profiles/email/{EMAIL}")
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return r.json().get("events", [])


def test_display_and_click_notifications_are_kept_on_the_profile(edge: dict) -> None:
    proposition = decide(edge)
    r = call(edge, "interact", [notification("display", proposition)])
    assert r.status_code == 200, r.text
    assert r.json()["handle"] == []
    assert call(edge, "collect", [notification("interact", proposition)]).status_code == 204
    kinds = [e["eventType"] for e in kept_events(edge)]
    assert kinds == ["decisioning.propositionInteract", "decisioning.propositionDisplay"]


def test_a_notification_of_an_unknown_proposition_is_refused_whole(edge: dict) -> None:
    proposition = decide(edge)
    ghost = {**proposition, "id": "00000000-0000-0000-0000-000000000000"}
    r = call(
        edge,
        "collect",
        [notification("display", proposition), notification("display", ghost)],
    )
    assert_problem(
        r,
        422,
        "unknown-proposition",
        pointer="/events/1/xdm/_experience/decisioning/propositions/0/id",
    )
    assert kept_events(edge) == []  # the good first event was not kept either


def test_a_notification_of_an_offer_the_proposition_did_not_carry_is_refused(edge: dict) -> None:
    proposition = decide(edge)
    r = call(edge, "collect", [notification("interact", proposition, ["dps:personalized-offer:x"])])
    assert_problem(
        r,
        422,
        "offer-not-proposed",
        pointer="/events/0/xdm/_experience/decisioning/propositions/0/items/0/id",
    )
    assert kept_events(edge) == []


def test_a_malformed_notification_is_a_400_naming_the_field(edge: dict) -> None:
    r = call(
        edge,
        "collect",
        [{"xdm": {"eventType": "decisioning.propositionDisplay", "identityMap": IDENTITY}}],
    )
    assert_problem(
        r, 400, "bad-event", pointer="/events/0/xdm/_experience/decisioning/propositions"
    )


def test_behavioural_events_are_kept_and_fetches_are_not(edge: dict) -> None:
    r = call(
        edge,
        "collect",
        [
            {"xdm": {"eventType": "commerce.purchases", "identityMap": IDENTITY}},
            {"xdm": {"eventType": "decisioning.propositionFetch", "identityMap": IDENTITY}},
        ],
    )
    assert r.status_code == 204, r.text
    assert [e["eventType"] for e in kept_events(edge)] == ["commerce.purchases"]


def test_a_dry_run_notification_is_checked_and_not_kept(edge: dict) -> None:
    proposition = decide(edge)
    dry_run = {"__adobe": {"ajo": {"dryRun": True}}}
    event = {**notification("display", proposition), "data": dry_run}
    assert call(edge, "collect", [event], credentials=True).status_code == 204
    assert kept_events(edge) == []
    # checked: a dry run of an unknown proposition, or of an offer it did not carry, is refused
    ghost = {**proposition, "id": "00000000-0000-0000-0000-000000000000"}
    assert_problem(
        call(
            edge, "collect", [{**notification("display", ghost), "data": dry_run}], credentials=True
        ),
        422,
        "unknown-proposition",
        pointer="/events/0/xdm/_experience/decisioning/propositions/0/id",
    )
    stranger = notification("interact", proposition, ["dps:personalized-offer:x"])
    assert_problem(
        call(edge, "collect", [{**stranger, "data": dry_run}], credentials=True),
        422,
        "offer-not-proposed",
        pointer="/events/0/xdm/_experience/decisioning/propositions/0/items/0/id",
    )
    assert kept_events(edge) == []


def test_an_interact_event_is_seen_once_by_the_decision_it_asks_for(edge: dict) -> None:
    """The event of a decision request is the profile's newest event while deciding, and is
    kept after: a page view asks for offers and is then on the profile, once."""
    r = call(
        edge,
        "interact",
        [
            {
                "xdm": {"eventType": "web.webpagedetails.pageViews", "identityMap": IDENTITY},
                "query": {
                    "personalization": {"decisionScopes": [scope("homepage-and-email", "web-hero")]}
                },
            }
        ],
    )
    assert r.status_code == 200, r.text
    assert [e["eventType"] for e in kept_events(edge)] == ["web.webpagedetails.pageViews"]


# -- /v1/events --------------------------------------------------------------------------------


def jsonl(*lines: Any) -> bytes:
    return b"\n".join(json.dumps(x).encode() if not isinstance(x, bytes) else x for x in lines)


def post_events(api: Api, body: bytes, query: str = "") -> Any:
    return api.client.post(
        f"/v1/events{query}",
        content=body,
        headers={**api.headers, "Content-Type": "application/x-ndjson"},
    )


def test_bulk_events_are_kept_and_counted(edge: dict) -> None:
    api: Api = edge["api"]
    proposition = decide(edge)
    body = jsonl(
        notification("display", proposition),
        notification("interact", proposition)["xdm"],  # the bare XDM form
        {"xdm": {"eventType": "commerce.purchases", "identityMap": IDENTITY}},
        b"",
    )
    r = post_events(api, body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "events": 3,
        "kept": 3,
        "impressions": 1,
        "clicks": 1,
        "custom": 1,
        "profiles": 1,
        "dryRun": False,
    }
    assert len(kept_events(edge)) == 3


def test_bulk_events_dry_run_checks_only(edge: dict) -> None:
    api: Api = edge["api"]
    r = post_events(
        api, jsonl({"xdm": {"eventType": "x", "identityMap": IDENTITY}}), "?dryRun=true"
    )
    assert r.status_code == 200, r.text
    assert r.json()["dryRun"] is True and r.json()["kept"] == 0
    assert kept_events(edge) == []


def test_bulk_events_errors_name_the_line_and_keep_nothing(edge: dict) -> None:
    api: Api = edge["api"]
    good = {"xdm": {"eventType": "commerce.purchases", "identityMap": IDENTITY}}
    r = post_events(api, jsonl(good, {"xdm": {"eventType": "x", "timestamp": "soon"}}))
    problem = assert_problem(r, 400, "bad-event", pointer="/2/xdm/timestamp")
    assert problem["line"] == 2 and problem["detail"].startswith("line 2:")
    r = post_events(api, jsonl(good, b"{not json"))
    problem = assert_problem(r, 400, "malformed-json")
    assert problem["line"] == 2 and problem["detail"].startswith("line 2:")
    assert_problem(post_events(api, b"\n\n"), 400, "malformed-json")
    r = api.client.post(
        "/v1/events", content=b"{}", headers={**api.headers, "Content-Type": "image/png"}
    )
    assert_problem(r, 415, "unsupported-media-type")
    assert kept_events(edge) == []


def test_bulk_events_need_credentials(edge: dict) -> None:
    api: Api = edge["api"]
    r = api.client.post(
        "/v1/events", content=b"{}", headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code in (400, 401)
    assert r.headers["content-type"].startswith("application/problem+json")
