"""Each library entity's form, made from its one description, creates what the API stores,
and is usable by keyboard alone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, open_console

WEB = "https://ns.adobe.com/xdm/channel-types/web"


def _tag(page: Page) -> dict[str, Any]:
    return {}


def _placement(page: Page) -> dict[str, Any]:
    page.get_by_label("Channel", exact=True).select_option(WEB)
    page.get_by_label("Content type", exact=True).select_option("text")
    page.get_by_label("Number of items", exact=True).fill("3")
    page.get_by_label("Return content", exact=True).select_option("true")
    return {"channel": WEB, "componentType": "text", "itemCount": 3, "returnContent": True}


def _rule(page: Page) -> dict[str, Any]:
    page.get_by_label("Condition", exact=True).fill('loyalty.tier = "silver"')
    return {"condition": {"type": "PQL", "format": "pql/text", "value": 'loyalty.tier = "silver"'}}


def _formula(page: Page) -> dict[str, Any]:
    page.get_by_label("Formula", exact=True).fill("offer.rank.priority + 1")
    return {"expression": {"type": "PQL", "format": "pql/text", "value": "offer.rank.priority + 1"}}


def _collection(page: Page) -> dict[str, Any]:
    page.get_by_label("Type", exact=True).select_option("any-tags")
    page.get_by_label("Offers or collection qualifiers").select_option(
        ["dps:tag:travel", "dps:tag:loyalty"]
    )
    return {"filterType": "any-tags", "ids": ["dps:tag:loyalty", "dps:tag:travel"]}


def _offer(page: Page) -> dict[str, Any]:
    page.get_by_label("Start date (UTC)").fill("2030-01-01T09:30")
    page.get_by_label("End date (UTC)").fill("2030-02-01T18:00")
    page.get_by_label("Priority", exact=True).fill("7")
    page.get_by_label("Placement", exact=True).select_option(label="App card")
    page.get_by_label("Content", exact=True).fill('{"title": "Hi"}')
    page.get_by_label("Collection qualifiers").select_option("dps:tag:travel")
    return {
        "rank": {"priority": 7},
        "tags": ["dps:tag:travel"],
        "representations": [
            {
                "channel": "https://ns.adobe.com/xdm/channel-types/mobile",
                "placement": "dps:offer-placement:app-card",
                "components": [
                    {"type": "json", "format": "application/json", "content": '{"title": "Hi"}'}
                ],
            }
        ],
    }


def _decision(page: Page) -> dict[str, Any]:
    page.get_by_label("Placement", exact=True).select_option(label="App card")
    page.get_by_label("Collection", exact=True).select_option(label="App offers")
    page.get_by_label("Ranking method", exact=True).select_option("scoringFunction")
    page.get_by_label("Ranking formula", exact=True).select_option(label="Boost offers ending soon")
    page.get_by_label("Fallback offer", exact=True).select_option(label="Welcome to Acme")
    return {
        "fallback": "dps:fallback-offer:welcome",
        "criteria": [
            {
                "placements": ["dps:offer-placement:app-card"],
                "optionSelection": {"filter": "dps:offer-filter:app-offers"},
                "rank": {
                    "order": {
                        "orderEvaluationType": "scoringFunction",
                        "function": "dps:ranking-function:boost-ending-soon",
                    }
                },
            }
        ],
    }


def _ai_model(page: Page) -> dict[str, Any]:
    page.get_by_label("Type", exact=True).select_option("auto-optimization")
    page.get_by_label("Conversion event type", exact=True).fill("commerce.purchases")
    page.get_by_label("Training window (days)", exact=True).fill("7")
    return {
        "type": "auto-optimization",
        "status": "enabled",
        "optimizationMetric": {
            "impressionEventType": "decisioning.propositionDisplay",
            "conversionEventType": "commerce.purchases",
        },
    }


CASES: list[tuple[str, str, Callable[[Page], dict[str, Any]]]] = [
    ("collection-qualifiers", "/data/core/dps/tags", _tag),
    ("placements", "/data/core/dps/placements", _placement),
    ("rules", "/data/core/dps/offer-rules", _rule),
    ("ranking-formulas", "/data/core/dps/ranking-formulas", _formula),
    ("collections", "/data/core/dps/offer-collections", _collection),
    ("offers", "/data/core/dps/offers", _offer),
    ("decisions", "/data/core/dps/offer-decisions", _decision),
    ("ai-models", "/data/core/dps/ranking-strategies", _ai_model),
]


@pytest.mark.parametrize(("slug", "collection", "fill"), CASES, ids=[c[0] for c in CASES])
def test_each_entity_is_created_through_its_form(
    page: Page,
    open_server: Server,
    problems: Problems,
    slug: str,
    collection: str,
    fill: Callable[[Page], dict[str, Any]],
) -> None:
    open_console(page, open_server, f"/{slug}/new")
    name = f"Made in the console {uuid.uuid4().hex[:8]}"
    page.get_by_label("Name", exact=True).fill(name)
    expected = fill(page)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt]")).to_be_visible()
    object_id = page.locator("[data-receipt] [data-r=id]").inner_text()
    suffix = "?offer-type=personalized" if slug == "offers" else ""
    with open_server.api() as api:
        doc = api.get(f"{collection}/{object_id}{suffix}").json()
    assert doc["name"] == name
    for key, value in expected.items():
        assert doc[key] == value, key


def test_a_personalized_offer_s_dates_are_utc(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/offers/new")
    page.get_by_label("Name", exact=True).fill(f"Dated {uuid.uuid4().hex[:8]}")
    _offer(page)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt]")).to_be_visible()
    object_id = page.locator("[data-receipt] [data-r=id]").inner_text()
    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/offers/{object_id}?offer-type=personalized").json()
    constraint = doc["selectionConstraint"]
    assert constraint["startDate"].startswith("2030-01-01T09:30:00")
    assert constraint["endDate"].startswith("2030-02-01T18:00:00")
    page.locator("[data-receipt]").get_by_role("link", name="Open it").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Start date (UTC)")).to_have_value("2030-01-01T09:30")


def test_the_console_works_by_keyboard(page: Page, open_server: Server, problems: Problems) -> None:
    open_console(page, open_server)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    nav_link = page.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Collection qualifiers"
    )
    nav_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Collection qualifiers")).to_be_visible()
    expect(page.locator("#content")).to_be_focused()  # focus follows the new page
    new = page.get_by_role("link", name="New collection qualifier")
    new.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New collection qualifier")).to_be_visible()
    page.keyboard.press("Tab")
    name = f"Keyboard {uuid.uuid4().hex[:8]}"
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("[data-receipt] h2")).to_be_focused()
    with open_server.api() as api:
        found = api.get("/data/core/dps/tags", params={"property": f"name=={name}"}).json()
    assert found["total"] == 1


def test_capping_rules_and_audiences_are_repeated_groups(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/offers/new")
    page.get_by_label("Name", exact=True).fill(f"Capped {uuid.uuid4().hex[:8]}")
    _offer(page)
    page.get_by_label("Eligibility", exact=True).select_option("anySegments")
    page.get_by_role("button", name="Add audience").click()
    expect(page.get_by_label("Audience ID")).to_be_focused()
    page.get_by_label("Audience ID").fill("gold-members")
    page.get_by_label("Namespace").fill("ups")
    page.get_by_role("button", name="Add capping rule").click()
    page.get_by_label("Capping event").select_option("impression")
    page.get_by_label("Capping count limit").fill("3")
    page.get_by_label("Capping type").select_option("profile")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt]")).to_be_visible()
    object_id = page.locator("[data-receipt] [data-r=id]").inner_text()
    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/offers/{object_id}?offer-type=personalized").json()
    constraint = doc["selectionConstraint"]
    assert constraint["profileConstraintType"] == "anySegments"
    assert constraint["segmentIdentities"] == [
        {"_id": "gold-members", "namespace": {"code": "ups"}}
    ]
    (cap,) = doc["frequencyCappingConstraints"]
    assert (cap["event"], cap["limit"], cap["scope"]) == ("impression", 3, "profile")
