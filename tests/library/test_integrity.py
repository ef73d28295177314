"""The library cannot be corrupted: references, representations, lifecycles, fallbacks, limits."""

from __future__ import annotations

from nextoffer.config import Limits
from nextoffer.store import library_repo as repo
from tests.helpers import EMAIL, WEB, Api, assert_problem, component_for, offer_body

OFFERS = "/offers?offer-type=personalized"


def test_one_representation_per_placement(api: Api) -> None:
    placement = api.placement()
    r = api.post(OFFERS, offer_body([placement, placement]))
    body = assert_problem(r, 422, pointer="/representations/1/placement")
    assert "one representation per placement" in body["errors"][0]["message"]


def test_representation_channel_must_match_its_placement(api: Api) -> None:
    placement = api.placement(EMAIL, "html")
    r = api.post(OFFERS, offer_body([placement], channel=WEB))
    assert_problem(r, 422, pointer="/representations/0/channel")


def test_component_type_must_match_its_placement(api: Api) -> None:
    placement = api.placement(WEB, "imagelink")
    assert_problem(
        api.post(OFFERS, offer_body([placement], component="html")),
        422,
        pointer="/representations/0/components/0/type",
    )
    assert api.post(OFFERS, offer_body([placement], component="imagelink")).status_code == 201


def test_equivalent_spellings_of_channels_and_component_types_match(api: Api) -> None:
    text = api.placement(EMAIL, "text")
    body = offer_body([text], channel="https://ns.adobe.com/xdm/channels/email")
    body["representations"][0]["components"] = [
        {"type": "component-text", "format": "text/template", "content": "Get free shipping!"}
    ]
    assert api.post(OFFERS, body).status_code == 201
    legacy = api.placement(
        WEB, "https://ns.adobe.com/experience/offer-management/content-component-json"
    )
    assert api.post(OFFERS, offer_body([legacy], component="json")).status_code == 201


def test_an_approved_offer_needs_a_representation(api: Api) -> None:
    body = offer_body([], status="approved")
    assert_problem(api.post(OFFERS, body), 422, pointer="/representations")
    body["status"] = "draft"
    assert api.post(OFFERS, body).status_code == 201


def test_offer_references_to_rules_and_tags_are_checked(api: Api) -> None:
    placement = api.placement()
    rule = api.rule()
    tag = api.tag()
    good = offer_body([placement], tags=[tag])
    good["selectionConstraint"] = {
        "profileConstraintType": "eligibilityRule",
        "eligibilityRule": rule,
    }
    assert api.post(OFFERS, good).status_code == 201
    good["selectionConstraint"]["eligibilityRule"] = "dps:eligibility-rule:ffffffffffffffff"
    assert_problem(
        api.post(OFFERS, good),
        422,
        "invalid-reference",
        pointer="/selectionConstraint/eligibilityRule",
    )
    assert_problem(api.delete(f"/tags/{tag}"), 409, "still-referenced", pointer="/tags/0")
    assert_problem(api.delete(f"/offer-rules/{rule}"), 409, "still-referenced")


def test_collection_ids_follow_the_filter_type(api: Api) -> None:
    placement = api.placement()
    offer = api.offer([placement])
    fallback = api.offer([placement], kind="fallback")
    tag = api.tag()
    assert api.collection([offer], "offers")
    assert api.collection([tag], "any-tags")
    assert api.collection([tag], "allTags")
    for ids, filter_type in (([tag], "offers"), ([offer], "all-tags"), ([fallback], "offers")):
        r = api.post("/offer-collections", {"name": "c", "filterType": filter_type, "ids": ids})
        assert_problem(r, 422, "invalid-reference", pointer="/ids/0")
    r = api.post("/offer-collections", {"name": "c", "filterType": "offers", "ids": [offer, offer]})
    assert_problem(r, 422, pointer="/ids/1")


def _live_decision_body(placements: list[str], collection: str, fallback: str | None) -> dict:
    body = {
        "name": "live one",
        "status": "live",
        "criteria": [{"placements": placements, "optionSelection": {"filter": collection}}],
    }
    if fallback:
        body["fallback"] = fallback
    return body


def test_a_decision_goes_live_only_with_a_usable_fallback(api: Api) -> None:
    p1, p2 = api.placement(), api.placement()
    collection = api.collection([api.offer([p1, p2])])
    r = api.post("/offer-decisions", _live_decision_body([p1, p2], collection, None))
    assert_problem(r, 422, pointer="/fallback")
    draft_fallback = api.offer([p1, p2], kind="fallback", status="draft")
    r = api.post("/offer-decisions", _live_decision_body([p1, p2], collection, draft_fallback))
    assert "approved fallback" in assert_problem(r, 422, pointer="/fallback")["detail"] + str(
        r.json()["errors"]
    )
    partial = api.offer([p1], kind="fallback")
    r = api.post("/offer-decisions", _live_decision_body([p1, p2], collection, partial))
    body = assert_problem(r, 422, pointer="/fallback")
    assert p2 in body["errors"][0]["message"]
    full = api.offer([p1, p2], kind="fallback")
    assert (
        api.post("/offer-decisions", _live_decision_body([p1, p2], collection, full)).status_code
        == 201
    )
    no_criteria = {"name": "empty", "status": "live", "fallback": full, "criteria": []}
    assert_problem(api.post("/offer-decisions", no_criteria), 422, pointer="/criteria")


def test_going_live_by_patch_checks_the_fallback_too(api: Api) -> None:
    placement = api.placement()
    collection = api.collection([api.offer([placement])])
    decision = api.decision([placement], collection, None)
    go_live = [{"op": "replace", "path": "/status", "value": "live"}]
    assert_problem(api.patch(f"/offer-decisions/{decision}", go_live), 422, pointer="/fallback")
    fallback = api.offer([placement], kind="fallback")
    ops = [{"op": "add", "path": "/fallback", "value": fallback}, *go_live]
    assert api.patch(f"/offer-decisions/{decision}", ops).status_code == 200


def test_a_fallback_in_use_by_a_live_decision_stays_usable(api: Api) -> None:
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection([api.offer([placement])])
    live = api.decision([placement], collection, fallback, status="live")
    to_draft = [{"op": "replace", "path": "/status", "value": "draft"}]
    r = api.patch(f"/offers/{fallback}?offer-type=fallback", to_draft)
    body = assert_problem(r, 422, "breaks-referrer", pointer="/status")
    assert live in body["errors"][0]["message"]
    no_rep = [{"op": "replace", "path": "/representations", "value": []}, *to_draft]
    assert_problem(api.patch(f"/offers/{fallback}?offer-type=fallback", no_rep), 422)
    # a harmless change to the same fallback is fine
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert api.patch(f"/offers/{fallback}?offer-type=fallback", rename).status_code == 200
    # once the decision is complete, the fallback may change
    done = [{"op": "replace", "path": "/status", "value": "complete"}]
    assert api.patch(f"/offer-decisions/{live}", done).status_code == 200
    assert api.patch(f"/offers/{fallback}?offer-type=fallback", to_draft).status_code == 200


def test_a_placement_in_use_keeps_its_channel_and_content_type(api: Api) -> None:
    used = api.placement()
    offer = api.offer([used])
    r = api.patch(
        f"/placements/{used}", [{"op": "replace", "path": "/componentType", "value": "json"}]
    )
    body = assert_problem(r, 422, "breaks-referrer", pointer="/componentType")
    assert offer in body["errors"][0]["message"]
    r = api.patch(f"/placements/{used}", [{"op": "replace", "path": "/channel", "value": EMAIL}])
    assert_problem(r, 422, "breaks-referrer", pointer="/channel")
    unused = api.placement()
    r = api.patch(f"/placements/{unused}", [{"op": "replace", "path": "/channel", "value": EMAIL}])
    assert r.status_code == 200


def test_decision_references_are_checked(api: Api) -> None:
    placement = api.placement()
    collection = api.collection([api.offer([placement])])
    body = {
        "name": "d",
        "criteria": [
            {
                "placements": [placement],
                "optionSelection": {"filter": collection},
                "rank": {
                    "order": {
                        "orderEvaluationType": "scoringFunction",
                        "function": "dps:ranking-function:0",
                    }
                },
                "profileConstraint": {
                    "profileConstraintType": "eligibilityRule",
                    "eligibilityRule": "dps:eligibility-rule:0",
                },
            }
        ],
    }
    problem = assert_problem(api.post("/offer-decisions", body), 422, "invalid-reference")
    assert {e["pointer"] for e in problem["errors"]} == {
        "/criteria/0/rank/order/function",
        "/criteria/0/profileConstraint/eligibilityRule",
    }
    body["criteria"][0]["rank"]["order"]["function"] = api.formula()
    body["criteria"][0]["profileConstraint"]["eligibilityRule"] = api.rule()
    assert api.post("/offer-decisions", body).status_code == 201


def test_limits_are_enforced_with_their_names(make_api) -> None:
    limits = Limits(
        tags_per_sandbox=2,
        offers_per_collection=2,
        capping_rules_per_offer=1,
        tags_per_object=1,
        live_decisions_per_sandbox=1,
    )
    api = make_api(limits=limits)
    t1, t2 = api.tag(), api.tag()
    body = assert_problem(api.post("/tags", {"name": "third"}), 422, "limit-exceeded")
    assert "tags_per_sandbox" in body["errors"][0]["message"]
    placement = api.placement()
    offers = [api.offer([placement]) for _ in range(3)]
    r = api.post("/offer-collections", {"name": "c", "filterType": "offers", "ids": offers})
    assert "offers_per_collection" in assert_problem(r, 422, pointer="/ids")["errors"][0]["message"]
    capped = offer_body([placement], frequencyCappingConstraints=[{"limit": 1}, {"limit": 2}])
    assert_problem(api.post(OFFERS, capped), 422, pointer="/frequencyCappingConstraints")
    assert_problem(api.post(OFFERS, offer_body([placement], tags=[t1, t2])), 422, pointer="/tags")
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection(offers[:2])
    api.decision([placement], collection, fallback, status="live")
    r = api.post("/offer-decisions", _live_decision_body([placement], collection, fallback))
    assert (
        "live_decisions_per_sandbox"
        in assert_problem(r, 422, pointer="/status")["errors"][0]["message"]
    )


def test_every_write_bumps_the_revision_and_a_failed_write_does_not(api: Api, services) -> None:
    def revision() -> int:
        with services.db.read() as conn:
            sandbox = repo.find_sandbox(conn, api.org, api.sandbox)
            return repo.revision(conn, sandbox.pk)[0]

    tag = api.tag()
    first = revision()
    api.patch(f"/tags/{tag}", [{"op": "replace", "path": "/name", "value": "n"}])
    assert revision() == first + 1
    assert api.post("/tags", {"name": ""}).status_code == 400
    assert api.post(OFFERS, offer_body(["dps:offer-placement:0"])).status_code == 422
    assert revision() == first + 1
    api.delete(f"/tags/{tag}")
    assert revision() == first + 2


def test_components_carry_assets_and_links(api: Api) -> None:
    placement = api.placement(WEB, "imagelink")
    component = component_for("imagelink") | {
        "linkURL": "https://example.com/landing",
        "repo:id": "urn:aaid:sc:US:1234",
        "repo:name": "banner.png",
    }
    body = offer_body([placement], component="imagelink")
    body["representations"][0]["components"] = [component]
    offer = api.create(OFFERS, body)
    stored = api.get(f"/offers/{offer}?offer-type=personalized").json()
    assert stored["representations"][0]["components"][0]["repo:name"] == "banner.png"
