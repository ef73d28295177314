"""The Edge service driven directly, without HTTP: the interact and collect flows."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from nextoffer.composition import Services
from nextoffer.demo import demo_library
from nextoffer.edge.callers import SERVER
from nextoffer.errors import InvalidInput, RuleViolation
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.edge import EdgeRequest
from nextoffer.wire.scopes import scope_token
from tests.conftest import new_org
from tests.edge.conftest import scope

EMAIL = "ada@example.com"
IDENTITY = {"email": [{"id": EMAIL, "primary": True}]}
HERO = scope("homepage-and-email", "web-hero")
UNKNOWN = scope_token("dps:offer-activity:nope", "dps:offer-placement:web-hero")


@pytest.fixture
def tenant(services: Services) -> Tenant:
    tenant = Tenant(new_org(), "prod")
    import_library(services.library, tenant, Actor("t", "t"), demo_library())
    return tenant


def request(*events: dict[str, Any], **top: Any) -> EdgeRequest:
    return msgspec.convert({"events": list(events), **top}, EdgeRequest)


def page_view(*scopes: str, dry: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "xdm": {"eventType": "web.webpagedetails.pageViews", "identityMap": IDENTITY},
        "query": {"personalization": {"decisionScopes": list(scopes)}},
    }
    if dry:
        event["data"] = {"__adobe": {"ajo": {"dryRun": True}}}
    return event


def kept(services: Services, tenant: Tenant) -> list[Any]:
    profile = services.profiles.find(tenant, [("email", EMAIL)], with_events=True)
    return list(profile.events) if profile is not None else []


def test_interact_decides_each_event_and_keeps_it(services: Services, tenant: Tenant) -> None:
    body = services.edge.interact(
        tenant, request(page_view(HERO)), caller=SERVER, request_id="req-1"
    )
    assert body["requestId"] == "req-1" and "warnings" not in body
    [handle] = body["handle"]
    assert handle["type"] == "personalization:decisions" and handle["eventIndex"] == 0
    [prop] = handle["payload"]
    assert prop["scope"] == HERO and prop["items"]
    assert services.decision_events.get(tenant, [prop["id"]])  # recorded
    assert [e["eventType"] for e in kept(services, tenant)] == ["web.webpagedetails.pageViews"]


def test_a_scope_that_cannot_be_decided_is_a_warning_of_its_event(
    services: Services, tenant: Tenant
) -> None:
    body = services.edge.interact(
        tenant, request(page_view(), page_view(UNKNOWN, HERO)), caller=SERVER, request_id="req-2"
    )
    [handle] = body["handle"]
    assert handle["eventIndex"] == 1
    assert [p["scope"] for p in handle["payload"]] == [HERO]  # the good scope is still decided
    [warning] = body["warnings"]
    assert warning == {
        "type": "https://nextoffer.dev/problems/bad-scope",
        "status": 422,
        "title": "Scope not decided",
        "detail": f"{UNKNOWN}: there is no decision dps:offer-activity:nope",
        "report": {"eventIndex": 1},
    }


def test_a_sandbox_without_decisions_warns_for_every_scope(services: Services) -> None:
    body = services.edge.interact(
        Tenant(new_org(), "prod"), request(page_view(HERO, UNKNOWN)), caller=SERVER
    )
    assert body["handle"] == [] and body["requestId"]  # a request id is made up when none is given
    assert [w["detail"] for w in body["warnings"]] == [
        f"{HERO}: this sandbox has no decisions",
        f"{UNKNOWN}: this sandbox has no decisions",
    ]


def test_a_dry_run_decides_but_records_and_keeps_nothing(
    services: Services, tenant: Tenant
) -> None:
    body = services.edge.interact(tenant, request(page_view(HERO, dry=True)), caller=SERVER)
    [prop] = body["handle"][0]["payload"]
    assert prop["items"]
    assert services.decision_events.get(tenant, [prop["id"]]) == {}
    assert kept(services, tenant) == []


def test_collect_keeps_events_and_decides_nothing(services: Services, tenant: Tenant) -> None:
    assert (
        services.edge.collect(tenant, request(page_view(UNKNOWN)), caller=SERVER) is None
    )  # scopes unread
    assert [e["eventType"] for e in kept(services, tenant)] == ["web.webpagedetails.pageViews"]


def test_a_bad_event_fails_the_whole_request_before_anything_is_kept(
    services: Services, tenant: Tenant
) -> None:
    bad = {"xdm": {"eventType": 7}}
    with pytest.raises(InvalidInput) as raised:
        services.edge.interact(tenant, request(page_view(HERO), bad), caller=SERVER)
    assert raised.value.errors[0].pointer == "/events/1/xdm/eventType"
    assert kept(services, tenant) == []


def test_a_request_without_events_is_refused(services: Services, tenant: Tenant) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.edge.interact(tenant, EdgeRequest(), caller=SERVER)
    assert raised.value.errors[0].pointer == "/events"


def test_a_notification_of_an_unknown_proposition_refuses_the_request(
    services: Services, tenant: Tenant
) -> None:
    display = {
        "xdm": {
            "eventType": "decisioning.propositionDisplay",
            "identityMap": IDENTITY,
            "_experience": {"decisioning": {"propositions": [{"id": "never-made"}]}},
        }
    }
    with pytest.raises(RuleViolation) as raised:
        services.edge.interact(tenant, request(page_view(HERO), display), caller=SERVER)
    assert raised.value.errors[0].code == "unknown-proposition"
    assert kept(services, tenant) == []
