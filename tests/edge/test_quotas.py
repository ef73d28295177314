"""Rate limits of anonymous Edge calls, per datastream, through the real app (issue 15).

The limiter's clock is a parameter of the quota service: tests fix it, so `Retry-After` is
exact and "a minute later" needs no sleeping.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import pytest

from nextoffer.composition import Services
from nextoffer.config import ConfigError, Settings
from nextoffer.tenants import Tenant
from tests.capping.conftest import drop_redis_keys, redis_url, unique_prefix
from tests.edge.conftest import ORIGIN
from tests.helpers import Api, assert_problem

NOW = 1_765_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def services_of(api: Api) -> Services:
    return api.client.app.state.nextoffer  # type: ignore[attr-defined]


def with_clock(api: Api) -> Clock:
    clock = Clock()
    services_of(api).edge_quotas.clock = clock
    return clock


def datastream(api: Api, **limits: int) -> str:
    body: dict[str, Any] = {"name": "web", "allowedOrigins": [ORIGIN]}
    if limits:
        body["limits"] = limits
    r = api.post("/v1/datastreams", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def page_view(ecid: str | None) -> dict[str, Any]:
    xdm: dict[str, Any] = {"eventType": "web.webpagedetails.pageViews"}
    if ecid is not None:
        xdm["identityMap"] = {"ECID": [{"id": ecid, "primary": True}]}
    return {"xdm": xdm}


def collect(
    api: Api, ds: str, *ecids: str | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"events": [page_view(e) for e in ecids or (None,)]}
    return api.client.post(
        f"/ee/v2/collect?configId={ds}",
        content=json.dumps(body),
        headers={"Origin": ORIGIN, **(headers or {})},
    )


def has_profile(api: Api, ecid: str) -> bool:
    r = api.get(f"/v1/profiles/ECID/{ecid}")
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


def assert_limited(r: httpx.Response, limit: str, retry_after: int) -> None:
    body = assert_problem(r, 429, "rate-limited", parameter="configId")
    assert body["limit"] == limit and body["retryAfter"] == retry_after
    assert r.headers["retry-after"] == str(retry_after)
    assert limit in body["detail"]
    assert r.headers["access-control-allow-origin"] == ORIGIN  # the page can read why


def test_requests_per_second_of_a_datastream(make_api) -> None:
    api = make_api()
    clock = with_clock(api)
    ds = datastream(api, requestsPerSecond=2)
    assert [collect(api, ds).status_code for _ in range(2)] == [204, 204]
    assert_limited(collect(api, ds), "requestsPerSecond", 1)
    other = datastream(api, requestsPerSecond=2)  # a bucket per datastream
    assert collect(api, other).status_code == 204
    clock.now += 0.5  # one more request's worth
    assert collect(api, ds).status_code == 204
    assert collect(api, ds).status_code == 429


def test_new_profiles_per_minute_and_nothing_written_when_refused(make_api) -> None:
    api = make_api()
    clock = with_clock(api)
    ds = datastream(api, newProfilesPerMinute=2)
    assert collect(api, ds, "E1", "E2").status_code == 204  # two new profiles at once
    assert has_profile(api, "E1") and has_profile(api, "E2")
    r = collect(api, ds, "E1", "E3")
    assert_limited(r, "newProfilesPerMinute", 30)  # one every 30 s after the burst
    assert not has_profile(api, "E3")
    assert len(services_of(api).profiles.get(_tenant(api), ("ECID", "E1")).events) == 1
    assert collect(api, ds, "E1", "E2").status_code == 204  # known profiles: no new one
    clock.now += 29
    assert_limited(collect(api, ds, "E3"), "newProfilesPerMinute", 1)
    clock.now += 1
    assert collect(api, ds, "E3").status_code == 204 and has_profile(api, "E3")


def test_events_that_share_an_identity_make_one_new_profile(make_api) -> None:
    api = make_api()
    with_clock(api)
    ds = datastream(api, newProfilesPerMinute=1)
    body = {
        "events": [
            {"xdm": {"identityMap": {"ECID": [{"id": "S1"}]}}},
            {"xdm": {"identityMap": {"ECID": [{"id": "S1"}], "email": [{"id": "s@x.org"}]}}},
        ]
    }
    r = api.client.post(f"/ee/v2/collect?configId={ds}", content=json.dumps(body))
    assert r.status_code == 204, r.text


def test_events_per_profile_per_minute(make_api) -> None:
    api = make_api()
    clock = with_clock(api)
    ds = datastream(api, eventsPerProfilePerMinute=3)
    assert collect(api, ds, "P1", "P1").status_code == 204
    assert collect(api, ds, "P1").status_code == 204
    assert_limited(collect(api, ds, "P1"), "eventsPerProfilePerMinute", 20)
    assert collect(api, ds, "P2").status_code == 204  # a bucket per identity
    assert len(services_of(api).profiles.get(_tenant(api), ("ECID", "P1")).events) == 3
    clock.now += 20
    assert collect(api, ds, "P1").status_code == 204


def test_a_request_over_a_limit_by_itself_is_unprocessable(make_api) -> None:
    api = make_api()
    ds = datastream(api, eventsPerProfilePerMinute=3)
    body = assert_problem(collect(api, ds, *["P1"] * 4), 422, "over-limit", parameter="configId")
    assert body["limit"] == "eventsPerProfilePerMinute" and "retry-after" not in body
    assert not has_profile(api, "P1")


def test_interact_is_limited_too(make_api) -> None:
    api = make_api()
    with_clock(api)
    ds = datastream(api, requestsPerSecond=1)
    url = f"/ee/v1/interact?configId={ds}"
    body = json.dumps({"event": page_view(None)})
    assert api.client.post(url, content=body).status_code == 200
    r = api.client.post(url, content=body, headers={"Origin": ORIGIN})
    assert_limited(r, "requestsPerSecond", 1)


def test_preflights_are_not_counted(make_api) -> None:
    api = make_api()
    with_clock(api)
    ds = datastream(api, requestsPerSecond=1)
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    for _ in range(3):
        assert api.client.options(f"/ee/v2/collect?configId={ds}", headers=preflight).is_success
    assert collect(api, ds).status_code == 204


def test_callers_with_credentials_are_not_limited(make_api) -> None:
    api = make_api()
    with_clock(api)
    ds = datastream(api, requestsPerSecond=1, newProfilesPerMinute=1)
    creds = {"Authorization": f"Bearer {api.token}", "x-api-key": api.api_key}
    for i in range(3):
        assert collect(api, ds, f"C{i}", headers=creds).status_code == 204
    assert has_profile(api, "C2")
    # credentials sent are never ignored: wrong ones are a 401, never a free pass
    wrong = {"Authorization": "Bearer nope", "x-api-key": api.api_key}
    assert collect(api, ds, headers=wrong).status_code == 401
    assert collect(api, ds).status_code == 204  # the page's bucket was untouched
    assert collect(api, ds).status_code == 429


def test_credentials_of_another_org_are_refused_not_exempt(make_api) -> None:
    api = make_api()
    with_clock(api)
    ds = datastream(api, requestsPerSecond=1)
    limited = {"Authorization": "Bearer limited-token", "x-api-key": "limited-key"}
    assert collect(api, ds, headers=limited).status_code == 403
    assert collect(api, ds).status_code == 204
    assert collect(api, ds).status_code == 429


def test_the_global_defaults_and_zero_for_none(make_api) -> None:
    api = make_api(edge_requests_per_second=1)
    with_clock(api)
    ds = datastream(api)
    assert collect(api, ds).status_code == 204
    assert_limited(collect(api, ds), "requestsPerSecond", 1)
    unlimited = datastream(api, requestsPerSecond=0)  # a datastream's own 0: no limit
    assert all(collect(api, unlimited).status_code == 204 for _ in range(5))


def test_limits_of_a_datastream_are_validated_and_patched(api: Api) -> None:
    r = api.post("/v1/datastreams", {"name": "web", "limits": {"requestsPerSecond": -1}})
    assert_problem(r, 400, "invalid-body", pointer="/limits/requestsPerSecond")
    r = api.post("/v1/datastreams", {"name": "web", "limits": {"perHour": 5}})
    assert_problem(r, 400, "invalid-body", pointer="/limits/perHour")
    r = api.post("/v1/datastreams", {"name": "web", "limits": {"eventsPerProfilePerMinute": True}})
    assert_problem(r, 400, "invalid-body", pointer="/limits/eventsPerProfilePerMinute")
    for bad in (None, [], "10"):
        r = api.post("/v1/datastreams", {"name": "web", "limits": bad})
        assert_problem(r, 400, "invalid-body", pointer="/limits")
    ds = api.post("/v1/datastreams", {"name": "web", "limits": {"requestsPerSecond": 5}}).json()
    assert ds["limits"] == {"requestsPerSecond": 5}
    path = f"/v1/datastreams/{ds['id']}"
    r = api.request("PATCH", path, json={"limits": {"newProfilesPerMinute": 7}})
    assert r.status_code == 200 and r.json()["limits"] == {"newProfilesPerMinute": 7}
    r = api.request("PATCH", path, json={"limits": {"newProfilesPerMinute": 2**40}})
    assert_problem(r, 400, "invalid-body", pointer="/limits/newProfilesPerMinute")
    r = api.request("PATCH", path, json={"limits": None})
    assert r.status_code == 200 and "limits" not in r.json()


def test_two_nodes_sharing_redis_share_the_limits(make_api) -> None:
    url, prefix = redis_url(), unique_prefix()
    try:
        first = make_api(redis_url=url, edge_limit_key_prefix=prefix)
        second = make_api(redis_url=url, edge_limit_key_prefix=prefix)
        second = Api(second.client, first.org, first.sandbox)  # the same tenant, other node
        clock = with_clock(first)
        services_of(second).edge_quotas.clock = clock
        ds = datastream(first, requestsPerSecond=2, newProfilesPerMinute=1)
        assert collect(first, ds).status_code == 204
        assert collect(second, ds).status_code == 204
        assert_limited(collect(first, ds), "requestsPerSecond", 1)
        clock.now += 10
        assert collect(second, ds, "R1").status_code == 204
        assert_limited(collect(first, ds, "R2"), "newProfilesPerMinute", 60)
        assert not has_profile(first, "R2")
    finally:
        drop_redis_keys(url, prefix)


def test_a_memory_limiter_is_per_node(make_api) -> None:
    first = make_api(edge_limit_store="memory")
    second = make_api(edge_limit_store="memory")
    second = Api(second.client, first.org, first.sandbox)
    with_clock(first)
    with_clock(second)
    ds = datastream(first, requestsPerSecond=1)
    assert collect(first, ds).status_code == 204
    assert collect(second, ds).status_code == 204
    assert collect(first, ds).status_code == 429


def test_the_limit_settings_are_read_from_the_environment() -> None:
    env = {
        "NEXTOFFER_EDGE_REQUESTS_PER_SECOND": "50",
        "NEXTOFFER_EDGE_NEW_PROFILES_PER_MINUTE": "0",
        "NEXTOFFER_EDGE_EVENTS_PER_PROFILE_PER_MINUTE": "30",
        "NEXTOFFER_EDGE_LIMIT_STORE": "Memory",
        "NEXTOFFER_EDGE_LIMIT_KEY_PREFIX": "site-a:",
    }
    s = Settings.from_env(env)
    assert (s.edge_requests_per_second, s.edge_new_profiles_per_minute) == (50, 0)
    assert s.edge_events_per_profile_per_minute == 30
    assert (s.edge_limit_store, s.edge_limit_key_prefix) == ("memory", "site-a:")
    with pytest.raises(ConfigError, match="NEXTOFFER_EDGE_REQUESTS_PER_SECOND"):
        Settings.from_env({"NEXTOFFER_EDGE_REQUESTS_PER_SECOND": "-1"})
    with pytest.raises(ConfigError, match="needs NEXTOFFER_REDIS_URL"):
        Settings.from_env({"NEXTOFFER_EDGE_LIMIT_STORE": "redis"})
    with pytest.raises(ConfigError, match="NEXTOFFER_EDGE_LIMIT_STORE must be one of"):
        Settings.from_env({"NEXTOFFER_EDGE_LIMIT_STORE": "sql"})


def _tenant(api: Api) -> Tenant:
    return Tenant(api.org, api.sandbox)
