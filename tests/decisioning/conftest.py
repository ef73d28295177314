"""A tenant with the demo library loaded, for Decisioning API tests."""

from __future__ import annotations

import pytest

from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from tests.helpers import Api

GOLD_US = {
    "loyalty": {"tier": "gold"},
    "homeAddress": {"countryCode": "US"},
    "person": {"name": {"firstName": "Ada"}},
}


@pytest.fixture
def demo(api: Api, services) -> Api:
    import_library(services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), demo_library())
    return api


def scope(activity: str, placement: str, count: int | None = None) -> dict:
    out = {
        "xdm:activityId": f"dps:offer-activity:{activity}",
        "xdm:placementId": f"dps:offer-placement:{placement}",
    }
    if count is not None:
        out["xdm:itemCount"] = count
    return out


def request_body(*scopes: dict, attributes: dict | None = None, **extra: object) -> dict:
    profile: dict = {"xdm:identityMap": {"Email": [{"xdm:id": "ada@example.com", "primary": True}]}}
    if attributes is not None:
        profile["xdm:attributes"] = attributes
    return {"xdm:propositionRequests": list(scopes), "xdm:profiles": [profile], **extra}


def post(api: Api, body: object, **headers: str):
    return api.client.post(
        "/data/core/ods/decisions", json=body, headers={**api.headers, **headers}
    )
