"""The library cannot be corrupted: references, representations, lifecycles, fallbacks, limits."""

from __future__ import annotations

import pytest

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


# -- every rule, with its exact error ---------------------------------------------------------


def the_error(r, code: str, pointer: str, message: str, detail: str | None = None) -> None:
    """The write is a 422 whose only error is `message` at `pointer`, with `code`."""
    body = assert_problem(r, 422, code)
    error = {"pointer": pointer, "message": message}
    if code != "rule-violation":
        error["code"] = code
    assert body["errors"] == [error], body
    if detail is not None:
        assert body["detail"] == detail, body


SMALL = Limits(
    characteristics_per_offer=2,
    criteria_per_decision=3,
    placements_per_decision=2,
    collections_per_decision=2,
    tags_per_object=2,
    offers_per_collection=2,
    capping_rules_per_offer=2,
)


def test_characteristics_per_offer_holds_at_the_limit(make_api) -> None:
    api = make_api(limits=SMALL)
    placement = api.placement()
    two = {"a": "1", "b": "2"}
    assert api.post(OFFERS, offer_body([placement], characteristics=two)).status_code == 201
    r = api.post(OFFERS, offer_body([placement], characteristics={**two, "c": "3"}))
    the_error(
        r,
        "limit-exceeded",
        "/characteristics",
        "an offer may carry at most 2 characteristics (limit characteristics_per_offer)",
        detail="the personalized offer breaks the library's rules",
    )


def test_tags_and_capping_rules_per_offer_hold_at_the_limit(make_api) -> None:
    api = make_api(limits=SMALL)
    placement = api.placement()
    tags = [api.tag() for _ in range(3)]
    assert api.post(OFFERS, offer_body([placement], tags=tags[:2])).status_code == 201
    the_error(
        api.post(OFFERS, offer_body([placement], tags=tags)),
        "limit-exceeded",
        "/tags",
        "an offer may carry at most 2 collection qualifiers (limit tags_per_object)",
    )
    rules = [{"limit": 1}, {"limit": 2}]
    body = offer_body([placement], frequencyCappingConstraints=rules)
    assert api.post(OFFERS, body).status_code == 201
    body = offer_body([placement], frequencyCappingConstraints=[*rules, {"limit": 3}])
    the_error(
        api.post(OFFERS, body),
        "limit-exceeded",
        "/frequencyCappingConstraints",
        "an offer may carry at most 2 capping rules (limit capping_rules_per_offer)",
    )


def test_collection_sizes_hold_at_the_limit(make_api) -> None:
    api = make_api(limits=SMALL)
    placement = api.placement()
    offers = [api.offer([placement]) for _ in range(3)]
    tags = [api.tag() for _ in range(3)]
    assert api.collection(offers[:2], "offers")
    assert api.collection(tags[:2], "any-tags")
    r = api.post("/offer-collections", {"name": "c", "filterType": "offers", "ids": offers})
    the_error(
        r,
        "limit-exceeded",
        "/ids",
        "a collection may list at most 2 ids (limit offers_per_collection)",
        detail="the collection breaks the library's rules",
    )
    for filter_type in ("any-tags", "allTags"):
        r = api.post("/offer-collections", {"name": "c", "filterType": filter_type, "ids": tags})
        the_error(
            r,
            "limit-exceeded",
            "/ids",
            "a collection may list at most 2 ids (limit tags_per_object)",
        )


def _criterion(placements: list[str], collection: str) -> dict:
    return {"placements": placements, "optionSelection": {"filter": collection}}


def test_criteria_placements_and_collections_per_decision_hold_at_the_limit(make_api) -> None:
    api = make_api(limits=SMALL)
    p1, p2, p3 = api.placement(), api.placement(), api.placement()
    offer = api.offer([p1, p2, p3])
    c1, c2, c3 = (api.collection([offer]) for _ in range(3))

    def decision(*criteria: dict):
        return api.post("/offer-decisions", {"name": "d", "criteria": list(criteria)})

    # at every limit at once: 3 criteria, 2 distinct placements, 2 distinct collections
    at_limit = decision(_criterion([p1, p2], c1), _criterion([p2, p1], c2), _criterion([p2], c1))
    assert at_limit.status_code == 201, at_limit.text
    the_error(
        decision(*[_criterion([p1], c1)] * 4),
        "limit-exceeded",
        "/criteria",
        "a decision may have at most 3 criteria (limit criteria_per_decision)",
        detail="the decision breaks the library's rules",
    )
    the_error(
        decision(_criterion([p1, p2], c1), _criterion([p3], c1)),
        "limit-exceeded",
        "/criteria",
        "a decision may use at most 2 placements (limit placements_per_decision)",
    )
    the_error(
        decision(_criterion([p1], c1), _criterion([p1], c2), _criterion([p1], c3)),
        "limit-exceeded",
        "/criteria",
        "a decision may use at most 2 collections (limit collections_per_decision)",
    )
    # the same limits hold when a PATCH adds the one too many
    decision_id = at_limit.json()["id"]
    add = [{"op": "add", "path": "/criteria/-", "value": _criterion([p1], c1)}]
    the_error(
        api.patch(f"/offer-decisions/{decision_id}", add),
        "limit-exceeded",
        "/criteria",
        "a decision may have at most 3 criteria (limit criteria_per_decision)",
    )


def _draft_decision(api: Api, placement: str, collection: str, fallback: str) -> str:
    body = {"name": "d", "fallback": fallback, "criteria": [_criterion([placement], collection)]}
    return api.create("/offer-decisions", body)


GO_LIVE = [{"op": "replace", "path": "/status", "value": "live"}]


def test_live_decisions_per_sandbox_holds_for_patches_at_the_limit(make_api) -> None:
    api = make_api(limits=Limits(live_decisions_per_sandbox=2))
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection([api.offer([placement])])
    first = api.decision([placement], collection, fallback, status="live")
    second, third = (_draft_decision(api, placement, collection, fallback) for _ in range(2))
    assert api.patch(f"/offer-decisions/{second}", GO_LIVE).status_code == 200  # 2 of 2
    refused = api.patch(f"/offer-decisions/{third}", GO_LIVE)
    the_error(
        refused,
        "limit-exceeded",
        "/status",
        "the sandbox already has 2 live decisions (limit live_decisions_per_sandbox)",
    )
    assert api.get(f"/offer-decisions/{third}").json()["status"] == "draft"
    # a live decision saved again does not count itself a second time
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert api.patch(f"/offer-decisions/{first}", rename).status_code == 200
    again = [{"op": "add", "path": "/criteria/-", "value": _criterion([placement], collection)}]
    assert api.patch(f"/offer-decisions/{second}", again).status_code == 200
    # a third decision may go live once one of the two is complete
    done = [{"op": "replace", "path": "/status", "value": "complete"}]
    assert api.patch(f"/offer-decisions/{first}", done).status_code == 200
    assert api.patch(f"/offer-decisions/{third}", GO_LIVE).status_code == 200


def test_a_live_decision_needs_criteria_and_a_fallback_messages(api: Api) -> None:
    placement = api.placement()
    collection = api.collection([api.offer([placement])])
    fallback = api.offer([placement], kind="fallback")
    the_error(
        api.post("/offer-decisions", {"name": "d", "status": "live", "fallback": fallback}),
        "rule-violation",
        "/criteria",
        "a live decision needs at least one criterion",
    )
    the_error(
        api.post("/offer-decisions", _live_decision_body([placement], collection, None)),
        "rule-violation",
        "/fallback",
        "a live decision needs a fallback offer",
    )
    draft = api.offer([placement], kind="fallback", status="draft")
    the_error(
        api.post("/offer-decisions", _live_decision_body([placement], collection, draft)),
        "rule-violation",
        "/fallback",
        f"a live decision needs an approved fallback; {draft} is draft",
    )
    archived = api.offer([placement], kind="fallback", status="archived")
    the_error(
        api.post("/offer-decisions", _live_decision_body([placement], collection, archived)),
        "rule-violation",
        "/fallback",
        f"a live decision needs an approved fallback; {archived} is archived",
    )
    other = api.placement()
    partial = api.offer([other, placement], kind="fallback")
    covered = _live_decision_body([placement, other], collection, partial)
    assert api.post("/offer-decisions", covered).status_code == 201
    uncovered = api.placement()
    body = _live_decision_body([placement, uncovered], collection, partial)
    the_error(
        api.post("/offer-decisions", body),
        "rule-violation",
        "/fallback",
        f"fallback {partial} has no representation for placement {uncovered}, "
        "which this live decision uses",
    )


def test_a_fallback_that_would_break_a_live_decision_names_it(api: Api) -> None:
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection([api.offer([placement])])
    live = api.decision([placement], collection, fallback, status="live")
    # a fallback no live decision uses may change freely, even one in a draft decision
    spare = api.offer([placement], kind="fallback")
    api.decision([placement], collection, spare)
    to_draft = [{"op": "replace", "path": "/status", "value": "draft"}]
    assert api.patch(f"/offers/{spare}?offer-type=fallback", to_draft).status_code == 200
    r = api.patch(f"/offers/{fallback}?offer-type=fallback", to_draft)
    the_error(
        r,
        "breaks-referrer",
        "/status",
        f"decision {live} would break: a live decision needs an approved fallback; "
        f"{fallback} is draft",
        detail=f"this change would break objects that reference {fallback}",
    )
    other = api.placement()
    moved = [{"op": "replace", "path": "/representations/0/placement", "value": other}]
    the_error(
        api.patch(f"/offers/{fallback}?offer-type=fallback", moved),
        "breaks-referrer",
        "/representations",
        f"decision {live} would break: fallback {fallback} has no representation for "
        f"placement {placement}, which this live decision uses",
    )


def test_representations_after_a_duplicate_are_still_checked(api: Api) -> None:
    web = api.placement()
    email = api.placement(EMAIL, "html")
    body = offer_body([web, web, email])  # the third is sent on the web channel
    body["representations"].append(dict(body["representations"][0]))
    body["representations"][3]["components"] = [component_for("json")]
    problem = assert_problem(api.post(OFFERS, body), 422, "rule-violation")
    assert problem["errors"] == [
        {
            "pointer": "/representations/1/placement",
            "message": f"placement {web} already has a representation at /representations/0; "
            "an offer holds at most one representation per placement",
        },
        {
            "pointer": "/representations/2/channel",
            "message": f"channel {WEB} does not match the channel of placement {email} ({EMAIL})",
        },
        {
            "pointer": "/representations/3/placement",
            "message": f"placement {web} already has a representation at /representations/0; "
            "an offer holds at most one representation per placement",
        },
    ]


def test_representation_mismatch_messages(api: Api) -> None:
    placement = api.placement(WEB, "imagelink")
    body = offer_body([placement], component="imagelink")
    body["representations"][0]["components"].append(component_for("html"))
    the_error(
        api.post(OFFERS, body),
        "rule-violation",
        "/representations/0/components/1/type",
        f"component type html does not match the component type of placement {placement} "
        "(imagelink)",
    )
    the_error(
        api.post(OFFERS, offer_body([], status="approved")),
        "rule-violation",
        "/representations",
        "an approved offer needs at least one representation",
    )
    offer = api.offer([placement], component="imagelink")
    twice = {"name": "c", "filterType": "offers", "ids": [offer, offer, offer]}
    problem = assert_problem(api.post("/offer-collections", twice), 422, "rule-violation")
    assert problem["errors"] == [
        {"pointer": f"/ids/{i}", "message": f"{offer} is listed twice (first at /ids/0)"}
        for i in (1, 2)
    ]


def test_a_placement_change_names_the_offer_it_would_break(api: Api) -> None:
    used = api.placement()
    offer = api.offer([used])
    # decisions reference the placement too, and are not broken by its channel
    api.decision([used], api.collection([offer]), None)
    r = api.patch(f"/placements/{used}", [{"op": "replace", "path": "/channel", "value": EMAIL}])
    the_error(
        r,
        "breaks-referrer",
        "/channel",
        f"personalized offer {offer} would break: channel {WEB} does not match the channel of "
        f"placement {used} ({EMAIL})",
    )


# -- dates --------------------------------------------------------------------------------------

DAY1, DAY2 = "2025-01-01T00:00:00.000+00:00", "2025-01-02T00:00:00.000+00:00"


def _capped(placement: str, *rules: dict) -> dict:
    return offer_body([placement], frequencyCappingConstraints=[{"limit": 5, **r} for r in rules])


def test_a_capping_rule_ending_before_it_starts_is_422(api: Api) -> None:
    placement = api.placement()
    body = _capped(placement, {}, {"startDate": DAY2, "endDate": DAY1})
    the_error(
        api.post(OFFERS, body),
        "rule-violation",
        "/frequencyCappingConstraints/1/endDate",
        f"endDate {DAY1} is before startDate {DAY2}",
    )
    # the same check on an update, with dates in other time zones (compared as instants)
    offer = api.create(OFFERS, _capped(placement, {"startDate": DAY1, "endDate": DAY2}))
    swapped = [
        {
            "op": "replace",
            "path": "/frequencyCappingConstraints/0/startDate",
            "value": "2025-01-02T01:30:00+02:00",  # 2025-01-01T23:30Z
        },
        {
            "op": "replace",
            "path": "/frequencyCappingConstraints/0/endDate",
            "value": "2025-01-01T23:00:00Z",
        },
    ]
    the_error(
        api.patch(f"/offers/{offer}?offer-type=personalized", swapped),
        "rule-violation",
        "/frequencyCappingConstraints/0/endDate",
        "endDate 2025-01-01T23:00:00.000+00:00 is before startDate 2025-01-01T23:30:00.000+00:00",
    )
    swapped[1]["value"] = "2025-01-01T23:45:00Z"  # now after the start, though "smaller" as text
    assert api.patch(f"/offers/{offer}?offer-type=personalized", swapped).status_code == 200


def test_dates_in_order_everywhere_with_exact_messages(api: Api) -> None:
    placement = api.placement()
    body = offer_body([placement])
    body["selectionConstraint"].update(startDate=DAY2, endDate=DAY1)
    the_error(
        api.post(OFFERS, body),
        "rule-violation",
        "/selectionConstraint/endDate",
        f"endDate {DAY1} is before startDate {DAY2}",
    )
    the_error(
        api.post("/offer-decisions", {"name": "d", "startDate": DAY2, "endDate": DAY1}),
        "rule-violation",
        "/endDate",
        f"endDate {DAY1} is before startDate {DAY2}",
    )


def test_equal_start_and_end_dates_are_accepted(api: Api) -> None:
    """Windows include both ends (`timeutil.outside`, `Period.applies`), so start == end is an
    instant in force, not a contradiction: offers, decisions and capping rules all accept it."""
    placement = api.placement()
    body = offer_body([placement])
    body["selectionConstraint"].update(startDate=DAY1, endDate=DAY1)
    assert api.post(OFFERS, body).status_code == 201
    decision = {"name": "d", "startDate": DAY1, "endDate": "2025-01-01T02:00:00+02:00"}
    assert api.post("/offer-decisions", decision).status_code == 201
    capped = _capped(placement, {"startDate": DAY1, "endDate": DAY1})
    assert api.post(OFFERS, capped).status_code == 201
    # only one date, or none, is fine too
    assert (
        api.post(OFFERS, _capped(placement, {"endDate": DAY1}, {"startDate": DAY2})).status_code
        == 201
    )


# -- ranking-formula aliases (definedOn) --------------------------------------------------------

CONTEXT = "_xdm.context.additionalParameters"
BOOSTED = {"boosted": {"schema": {"altId": CONTEXT, "version": "1"}}}
SHADOWED = 'boosted.weight * offer.rank.priority + if(profile.boosted.weight = "heavy", 1, 0)'
"""Compiles only when `boosted` is an alias: as a profile attribute it is a number and a string."""


def _formula(definedOn: dict | None, pql: str = SHADOWED) -> dict:
    body: dict = {"name": "f", "expression": {"value": pql}}
    if definedOn is not None:
        body["definedOn"] = definedOn
    return body


def test_a_definedOn_alias_is_a_root_of_its_own(api: Api) -> None:
    assert api.post("/ranking-formulas", _formula(BOOSTED)).status_code == 201
    r = api.post("/ranking-formulas", _formula(None))
    body = assert_problem(r, 422, "invalid-pql", pointer="/expression/value")
    assert body["errors"][0]["pqlCode"] == "conflicting_types"
    # keys naming the built-in roots (and Adobe's empty key) describe them: not aliases, no error
    builtin = {k: {"schema": {"altId": k}} for k in ("offer", "profile", "xEvent", "")}
    r = api.post("/ranking-formulas", _formula(builtin, "offer.rank.priority + profile.age"))
    assert r.status_code == 201, r.text
    # ... and do not make `profile.x` and `x` two roots
    assert_problem(api.post("/ranking-formulas", _formula(builtin)), 422, "invalid-pql")
    # a key PQL cannot name is kept as metadata and names no root
    r = api.post("/ranking-formulas", _formula({"my-data": {}}, "offer.rank.priority"))
    assert r.status_code == 201, r.text
    # a formula replaced with PUT is checked with its new aliases
    formula = api.create("/ranking-formulas", _formula(BOOSTED))
    assert_problem(api.put(f"/ranking-formulas/{formula}", _formula({})), 422, "invalid-pql")


@pytest.mark.parametrize("alias", ["person", "segmentMembership", "_acme"])
def test_an_alias_that_would_hide_a_built_in_root_is_422(api: Api, alias: str) -> None:
    body = _formula({**BOOSTED, alias: {"schema": {"altId": CONTEXT}}})
    the_error(
        api.post("/ranking-formulas", body),
        "invalid-pql",
        "/definedOn",
        f"{alias!r} cannot be a formula alias",
    )


def test_a_formula_reads_context_data_through_its_alias_when_deciding(api: Api) -> None:
    placement = api.placement()
    light = api.offer([placement], rank={"priority": 2})
    heavy = api.offer([placement], rank={"priority": 3})
    formula = api.create(
        "/ranking-formulas",
        _formula(BOOSTED, f'if(offer.id = "{light}", boosted.weight, 1) * offer.rank.priority'),
    )
    fallback = api.offer([placement], kind="fallback")
    criterion = _criterion([placement], api.collection([light, heavy]))
    criterion["rank"] = {"order": {"orderEvaluationType": "scoringFunction", "function": formula}}
    decision = api.create(
        "/offer-decisions",
        {"name": "d", "status": "live", "fallback": fallback, "criteria": [criterion]},
    )

    def ranked(weight: int) -> list[tuple[str, float]]:
        request = {
            "xdm:propositionRequests": [
                {"xdm:activityId": decision, "xdm:placementId": placement, "xdm:itemCount": 2}
            ],
            "xdm:profiles": [
                {
                    "xdm:identityMap": {"Email": [{"xdm:id": "a@example.com", "primary": True}]},
                    "xdm:contextData": [
                        {"@type": f"{CONTEXT};version=1", "xdm:data": {"xdm:weight": weight}}
                    ],
                }
            ],
        }
        r = api.client.post("/data/core/ods/decisions", json=request, headers=api.headers)
        assert r.status_code == 200, r.text
        [proposition] = r.json()["xdm:propositions"]
        return [(o["xdm:id"], o["xdm:score"]) for o in proposition["xdm:options"]]

    assert ranked(1) == [(heavy, 3), (light, 2)]
    assert ranked(10) == [(light, 20), (heavy, 3)]


def test_a_live_decision_with_a_fallback_of_the_wrong_kind_has_one_error(api: Api) -> None:
    placement = api.placement()
    collection = api.collection([offer := api.offer([placement])])
    for fallback, message in (
        (offer, f"{offer} is a personalized offer, not a fallback offer"),
        (
            "dps:fallback-offer:0000000000000000",
            "there is no fallback offer dps:fallback-offer:0000000000000000 in this sandbox",
        ),
    ):
        body = _live_decision_body([placement], collection, fallback)
        the_error(api.post("/offer-decisions", body), "invalid-reference", "/fallback", message)


def test_sandbox_counts_hold_at_the_limit_and_count_kinds_together(make_api) -> None:
    api = make_api(
        limits=Limits(offers_per_sandbox=2, rules_and_formulas_per_sandbox=2, tags_per_sandbox=1)
    )
    tag = api.tag()
    the_error(
        api.post("/tags", {"name": "second"}),
        "limit-exceeded",
        "",
        "the sandbox already holds 1 of these objects (limit tags_per_sandbox)",
        detail="the collection qualifier breaks the library's rules",
    )
    # an update is no new object: at the limit it still goes through
    rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert api.patch(f"/tags/{tag}", rename).status_code == 200
    placement = api.placement()
    api.offer([placement])
    api.offer([placement], kind="fallback")  # personalized and fallback offers count together
    for kind in ("personalized", "fallback"):
        the_error(
            api.post(f"/offers?offer-type={kind}", offer_body([placement])),
            "limit-exceeded",
            "",
            "the sandbox already holds 2 of these objects (limit offers_per_sandbox)",
        )
    api.rule()
    api.formula()  # decision rules and ranking formulas count together
    for path, body in (
        ("/offer-rules", {"name": "r", "condition": {"value": "true"}}),
        ("/ranking-formulas", {"name": "f", "expression": {"value": "1"}}),
    ):
        the_error(
            api.post(path, body),
            "limit-exceeded",
            "",
            "the sandbox already holds 2 of these objects (limit rules_and_formulas_per_sandbox)",
        )


def test_documents_without_their_optional_lists_are_checked_without_error(api: Api) -> None:
    """Omitted lists (representations, ids, criteria, placements) are empty, not errors."""
    assert api.post(OFFERS, {"name": "bare"}).status_code == 201
    assert api.post("/offers?offer-type=fallback", {"name": "bare"}).status_code == 201
    assert api.post("/offer-collections", {"name": "c", "filterType": "offers"}).status_code == 201
    placement = api.placement()
    collection = api.collection([api.offer([placement])])
    every_placement = {"optionSelection": {"filter": collection}}  # no placements: all of them
    body = {"name": "d", "criteria": [every_placement]}
    assert api.post("/offer-decisions", body).status_code == 201
    # a live decision whose draft fallback has no representations: both problems, no crash
    bare = api.create("/offers?offer-type=fallback", {"name": "bare"})
    body = _live_decision_body([placement], collection, bare)
    problem = assert_problem(api.post("/offer-decisions", body), 422, "rule-violation")
    assert [e["message"] for e in problem["errors"]] == [
        f"a live decision needs an approved fallback; {bare} is draft",
        f"fallback {bare} has no representation for placement {placement}, "
        "which this live decision uses",
    ]
