"""Impression, click and custom caps move with feedback events, and only with them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.scopes import scope_token
from tests.capping.library import CAPPED, DECISION, OTHER, P1, portable, rule
from tests.helpers import Api

EMAIL = "ada@example.com"
IDENTITY = {"email": [{"id": EMAIL, "primary": True}]}
SCOPE = scope_token(DECISION, P1, None)


@pytest.fixture
def tenant(api: Api, services) -> Any:
    def load(rules: list[dict]) -> dict:
        import_library(
            services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), portable(rules)
        )
        r = api.post("/v1/datastreams", {"name": "web"})
        assert r.status_code == 201, r.text
        return {"api": api, "datastream": r.json()["id"]}

    return load


def edge(t: dict, action: str, events: list[dict], *, credentials: bool = False) -> Any:
    """A page's call, or (`credentials`: what a dry run needs) a server's."""
    api: Api = t["api"]
    headers = {"Content-Type": "text/plain"}
    if credentials:
        headers.update({"Authorization": f"Bearer {api.token}", "x-api-key": api.api_key})
    return api.client.post(
        f"/ee/v2/{action}?configId={t['datastream']}",
        content=json.dumps({"events": events}).encode(),
        headers=headers,
    )


def decide(t: dict, *, dry: bool = False) -> dict:
    event: dict[str, Any] = {
        "xdm": {"identityMap": IDENTITY},
        "query": {"personalization": {"decisionScopes": [SCOPE]}},
    }
    if dry:
        event["data"] = {"__adobe": {"ajo": {"dryRun": True}}}
    r = edge(t, "interact", [event], credentials=dry)
    assert r.status_code == 200, r.text
    [proposition] = r.json()["handle"][0]["payload"]
    return proposition


def offers(proposition: dict) -> list[str]:
    return [i["id"] for i in proposition["items"]]


def notify(t: dict, event_type: str, proposition: dict, *, dry: bool = False) -> None:
    event: dict[str, Any] = {
        "xdm": {
            "eventType": event_type,
            "identityMap": IDENTITY,
            "_experience": {
                "decisioning": {
                    "propositions": [
                        {
                            "id": proposition["id"],
                            "scope": proposition["scope"],
                            "items": [{"id": i} for i in offers(proposition)],
                        }
                    ]
                }
            },
        }
    }
    if dry:
        event["data"] = {"__adobe": {"ajo": {"dryRun": True}}}
    r = edge(t, "collect", [event], credentials=dry)
    assert r.status_code == 204, r.text


@pytest.mark.parametrize(
    ("event", "event_type"),
    [
        ("impression", "decisioning.propositionDisplay"),
        ("click", "decisioning.propositionInteract"),
    ],
)
def test_a_cap_on_shown_or_clicked_offers_moves_only_with_notifications(
    tenant, event: str, event_type: str
) -> None:
    t = tenant([rule(2, event=event, per_profile=True, unit="day")])
    first, second = decide(t), decide(t)
    for _ in range(3):  # deciding alone never moves an impression or click counter
        assert offers(decide(t)) == [CAPPED]
    notify(t, event_type, first, dry=True)  # a dry run is checked, never counted
    assert offers(decide(t)) == [CAPPED]
    notify(t, event_type, first)
    assert offers(decide(t)) == [CAPPED]
    notify(t, event_type, first)  # a replay of the same notification counts nothing
    assert offers(decide(t)) == [CAPPED]
    notify(t, event_type, second)
    assert offers(decide(t)) == [OTHER]  # two counted: the cap of 2 is reached


@pytest.mark.parametrize(
    ("event", "other_kind"),
    [
        ("impression", "decisioning.propositionInteract"),
        ("click", "decisioning.propositionDisplay"),
    ],
)
def test_a_notification_of_the_other_kind_does_not_move_a_cap(
    tenant, event: str, other_kind: str
) -> None:
    t = tenant([rule(1, event=event, per_profile=True)])
    notify(t, other_kind, decide(t))
    assert offers(decide(t)) == [CAPPED]


def test_a_custom_cap_counts_matching_behavioural_events(tenant) -> None:
    t = tenant(
        [rule(1, event="custom", per_profile=True, condition='eventType = "commerce.purchases"')]
    )
    assert offers(decide(t)) == [CAPPED]
    r = edge(
        t,
        "collect",
        [{"xdm": {"eventType": "web.webpagedetails.pageViews", "identityMap": IDENTITY}}],
    )
    assert r.status_code == 204
    assert offers(decide(t)) == [CAPPED]  # not a purchase
    r = edge(t, "collect", [{"xdm": {"eventType": "commerce.purchases", "identityMap": IDENTITY}}])
    assert r.status_code == 204
    assert offers(decide(t)) == [OTHER]


def test_bulk_events_count_like_the_edge(tenant) -> None:
    t = tenant([rule(1, event="impression", per_profile=True)])
    api: Api = t["api"]
    shown = decide(t)
    line = {
        "xdm": {
            "eventType": "decisioning.propositionDisplay",
            "identityMap": IDENTITY,
            "_experience": {
                "decisioning": {"propositions": [{"id": shown["id"], "items": [{"id": CAPPED}]}]}
            },
        }
    }
    r = api.client.post(
        "/v1/events",
        content=json.dumps(line).encode(),
        headers={**api.headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["impressions"] == 1
    assert offers(decide(t)) == [OTHER]


def test_dry_run_decisions_never_move_decision_caps(tenant) -> None:
    t = tenant([rule(1, per_profile=True)])
    for _ in range(3):
        assert offers(decide(t, dry=True)) == [CAPPED]
    assert offers(decide(t)) == [CAPPED]
    assert offers(decide(t)) == [OTHER]


def test_a_refused_notification_names_every_unknown_proposition_and_offer(tenant) -> None:
    """Checking goes on past the first unknown proposition: every problem is named, and
    nothing is kept or counted."""
    t = tenant([rule(1, event="impression", per_profile=True)])
    shown = decide(t)
    ghost = {**shown, "id": "00000000-0000-0000-0000-000000000000"}
    bad = {**shown, "items": [{"id": OTHER}]}  # proposed CAPPED, not OTHER

    def display(*propositions: dict) -> dict:
        return {
            "xdm": {
                "eventType": "decisioning.propositionDisplay",
                "identityMap": IDENTITY,
                "_experience": {
                    "decisioning": {
                        "propositions": [
                            {"id": p["id"], "scope": p["scope"], "items": p["items"]}
                            for p in propositions
                        ]
                    }
                },
            }
        }

    r = edge(t, "collect", [display(ghost, bad, ghost), display(shown), display(ghost)])
    assert r.status_code == 422, r.text
    body = r.json()
    found = [(e["code"], e["pointer"]) for e in body["errors"]]
    path = "xdm/_experience/decisioning/propositions"
    assert found == [
        ("unknown-proposition", f"/events/0/{path}/0/id"),
        ("offer-not-proposed", f"/events/0/{path}/1/items/0/id"),
        ("unknown-proposition", f"/events/0/{path}/2/id"),
        ("unknown-proposition", f"/events/2/{path}/0/id"),
    ]
    assert offers(decide(t)) == [CAPPED]  # the good impression was not counted either
