"""What the Edge tests share: a tenant with the demo library and a datastream, and callers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.scopes import scope_token
from tests.helpers import Api

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "spec" / "examples"
ORIGIN = "https://www.example.com"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def documented_scopes() -> list[dict]:
    return example("decisioning.edge.decision-scope")["variants"]


@pytest.fixture
def edge(api: Api, services) -> dict[str, Any]:
    """A tenant with the demo library, the documented xcore ids as a second decision, and a
    datastream allowing ORIGIN."""
    library = demo_library()
    import_library(services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), library)
    # the ids of the documented scope strings, so a string copied from the docs decides
    docs = copy.deepcopy(library)
    rename = {
        "dps:offer-activity:app-home": "xcore:offer-activity:14efca8941895181",
        "dps:offer-placement:app-card": "xcore:offer-placement:12d544ae54e7e7db",
    }
    text = json.dumps(
        {
            "format": docs["format"],
            "version": 1,
            "objects": {
                "offer-placement": [
                    p
                    for p in docs["objects"]["offer-placement"]
                    if p["id"] == "dps:offer-placement:app-card"
                ],
                "offer-activity": [
                    d
                    for d in docs["objects"]["offer-activity"]
                    if d["id"] == "dps:offer-activity:app-home"
                ],
            },
        }
    )
    for old, new in rename.items():
        text = text.replace(old, new)
    xcore = json.loads(text)
    fallback = copy.deepcopy(docs["objects"]["fallback-offer"][0])
    fallback["id"] = "xcore:fallback-offer:14ea7f1ea26ebd0a"
    fallback["representations"] = [
        {
            "channel": "https://ns.adobe.com/xdm/channel-types/mobile",
            "placement": "xcore:offer-placement:12d544ae54e7e7db",
            "components": [
                {
                    "type": "json",
                    "format": "application/json",
                    "language": ["en-us"],
                    "content": '{"name": "fallback"}',
                }
            ],
        }
    ]
    offer = copy.deepcopy(
        next(o for o in docs["objects"]["personalized-offer"] if o["id"].endswith("double-points"))
    )
    offer["id"] = "xcore:personalized-offer:173b4e05676d87f5"
    offer["characteristics"] = {"reporting": "testRequest"}  # as the documented response has
    offer["representations"] = fallback["representations"]
    collection = {
        "id": "xcore:offer-filter:docs",
        "name": "docs",
        "filterType": "offers",
        "ids": [offer["id"]],
    }
    xcore["objects"]["fallback-offer"] = [fallback]
    xcore["objects"]["personalized-offer"] = [offer]
    xcore["objects"]["offer-filter"] = [collection]
    activity = xcore["objects"]["offer-activity"][0]
    activity["fallback"] = fallback["id"]
    activity["criteria"][0]["optionSelection"]["filter"] = collection["id"]
    import_library(services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), xcore)
    r = api.post("/v1/datastreams", {"name": "web", "allowedOrigins": [ORIGIN]})
    assert r.status_code == 201, r.text
    return {"api": api, "datastream": r.json()["id"]}


def interact(
    edge: dict, body: Any, *, version: str = "v2", raw: bytes | None = None, **headers: str
):
    api: Api = edge["api"]
    content = raw if raw is not None else json.dumps(body).encode()
    return api.client.post(
        f"/ee/{version}/interact?configId={edge['datastream']}&requestId=req-1",
        content=content,
        headers={"Content-Type": "text/plain; charset=UTF-8", **headers},
    )


def scope(activity: str, placement: str, count: int | None = None) -> str:
    return scope_token(f"dps:offer-activity:{activity}", f"dps:offer-placement:{placement}", count)
