"""Every error path answers with its status code and a problem+json body naming the field."""

from __future__ import annotations

import pytest

from tests.conftest import new_org
from tests.helpers import WEB, Api, assert_problem, offer_body

# -- tenancy and auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "parameter"),
    [("x-gw-ims-org-id", "x-gw-ims-org-id"), ("x-sandbox-name", "x-sandbox-name")],
)
def test_missing_tenant_header_is_400(api: Api, drop: str, parameter: str) -> None:
    r = api.get("/tags", headers={drop: None})
    assert_problem(r, 400, "missing-tenant", parameter=parameter)


def test_malformed_sandbox_name_is_400(api: Api) -> None:
    r = api.get("/tags", headers={"x-sandbox-name": "no spaces allowed"})
    assert_problem(r, 400, "missing-tenant", parameter="x-sandbox-name")


@pytest.mark.parametrize(
    ("headers", "code", "parameter"),
    [
        ({"Authorization": None}, "missing-credentials", "Authorization"),
        ({"x-api-key": None}, "missing-credentials", "x-api-key"),
        ({"Authorization": "Bearer wrong"}, "bad-credentials", "Authorization"),
        ({"Authorization": "Basic YWJjOmRlZg=="}, "bad-credentials", "Authorization"),
        ({"x-api-key": "limited-key"}, "bad-credentials", "Authorization"),
    ],
)
def test_bad_credentials_are_401(api: Api, headers: dict, code: str, parameter: str) -> None:
    r = api.get("/tags", headers=headers)
    assert_problem(r, 401, code, parameter=parameter)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_credentials_are_checked_before_anything_is_written(api: Api) -> None:
    r = api.post("/tags", {"name": "x"}, headers={"Authorization": "Bearer wrong"})
    assert_problem(r, 401)
    assert api.get("/tags").json()["total"] == 0


def test_org_not_granted_is_403(api: Api) -> None:
    limited = Api(api.client, api.org, "prod", token="limited-token", api_key="limited-key")
    assert_problem(limited.get("/tags"), 403, "org-not-granted", parameter="x-gw-ims-org-id")


def test_sandbox_not_granted_is_403(api: Api) -> None:
    limited = Api(
        api.client, "LIMITED@AdobeOrg", "prod", token="limited-token", api_key="limited-key"
    )
    assert_problem(limited.get("/tags"), 403, "sandbox-not-granted", parameter="x-sandbox-name")
    granted = Api(
        api.client, "LIMITED@AdobeOrg", "dev", token="limited-token", api_key="limited-key"
    )
    assert granted.get("/tags").status_code == 200


def test_a_tenant_never_sees_another_tenants_data(api: Api) -> None:
    tag = api.tag("secret")
    other_org = Api(api.client, new_org(), api.sandbox)
    other_sandbox = api.other_sandbox("dev")
    for other in (other_org, other_sandbox):
        assert_problem(other.get(f"/tags/{tag}"), 404, "not-found")
        assert other.get("/tags").json()["total"] == 0
        assert other.get("/tags?property=name==secret").json()["results"] == []
        assert_problem(other.delete(f"/tags/{tag}"), 404)
        assert_problem(
            other.patch(f"/tags/{tag}", [{"op": "replace", "path": "/name", "value": "x"}]), 404
        )
        # references across tenants are unknown references
        r = other.post("/offer-collections", {"name": "c", "filterType": "any-tags", "ids": [tag]})
        assert_problem(r, 422, "invalid-reference", pointer="/ids/0")
    assert api.get(f"/tags/{tag}").json()["name"] == "secret"


def test_open_mode_accepts_calls_without_credentials(make_api) -> None:
    open_api = make_api(open_mode=True)
    r = open_api.post("/tags", {"name": "t"}, headers={"Authorization": None, "x-api-key": None})
    assert r.status_code == 201
    assert r.json()["createdBy"] == "anonymous@nextoffer"


# -- bodies -------------------------------------------------------------------------------------


def test_malformed_json_is_400(api: Api) -> None:
    r = api.request(
        "POST", "/tags", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 400, "malformed-json", pointer="")


def test_empty_body_is_400(api: Api) -> None:
    r = api.request("POST", "/tags", content=b"", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed-json")


def test_body_that_is_not_an_object_is_400(api: Api) -> None:
    assert_problem(api.post("/tags", ["name"]), 400, "invalid-input", pointer="")


def test_nul_characters_are_refused(api: Api) -> None:
    assert_problem(api.post("/tags", {"name": "a\u0000b"}), 400, "malformed-json")


@pytest.mark.parametrize(
    "media", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_media_type_is_415(api: Api, media: str) -> None:
    r = api.request("POST", "/tags", content=b'{"name": "x"}', headers={"Content-Type": media})
    assert_problem(r, 415, "unsupported-media-type", parameter="Content-Type")


def test_vendor_json_media_types_are_accepted(api: Api) -> None:
    r = api.request(
        "POST",
        "/tags",
        content=b'{"name": "x"}',
        headers={"Content-Type": "application/vnd.adobe.xdm+json"},
    )
    assert r.status_code == 201


def test_too_large_body_is_413_and_writes_nothing(make_api) -> None:
    small = make_api(max_body_bytes=1000)
    assert_problem(small.post("/tags", {"name": "x" * 2000}), 413, "too-large")
    assert small.get("/tags").json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": 3}, "/name"),
        ({"name": "t", "stauts": "draft"}, "/stauts"),
    ],
)
def test_tag_schema_violations_are_400(api: Api, body: dict, pointer: str) -> None:
    assert_problem(api.post("/tags", body), 400, "invalid-body", pointer=pointer)


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"status": "live"}, "/status"),
        ({"rank": {"priority": "1"}}, "/rank/priority"),
        ({"rank": {"priority": -1}}, "/rank/priority"),
        ({"rank": {"priority": 1.5}}, "/rank/priority"),
        (
            {"selectionConstraint": {"startDate": "2024-13-01T00:00:00Z"}},
            "/selectionConstraint/startDate",
        ),
        ({"selectionConstraint": {"startDate": "2024-01-01"}}, "/selectionConstraint/startDate"),
        (
            {"selectionConstraint": {"profileConstraintType": "eligibilityRule"}},
            "/selectionConstraint",
        ),
        (
            {"selectionConstraint": {"profileConstraintType": "sometimes"}},
            "/selectionConstraint/profileConstraintType",
        ),
        ({"frequencyCappingConstraints": [{"limit": 0}]}, "/frequencyCappingConstraints/0/limit"),
        (
            {"frequencyCappingConstraints": [{"limit": 1, "event": "custom"}]},
            "/frequencyCappingConstraints/0",
        ),
        (
            {
                "frequencyCappingConstraints": [
                    {"limit": 1, "repeat": {"unit": "day", "unitCount": 800}}
                ]
            },
            "/frequencyCappingConstraints/0/repeat",
        ),
        ({"characteristics": {"k": 1}}, "/characteristics/k"),
        ({"representations": [{"channel": WEB}]}, "/representations/0/placement"),
    ],
)
def test_offer_schema_violations_are_400(api: Api, change: dict, pointer: str) -> None:
    placement = api.placement()
    body = offer_body([placement], status="draft")
    body.update(change)
    assert_problem(
        api.post("/offers?offer-type=personalized", body), 400, "invalid-body", pointer=pointer
    )


def test_component_needs_content(api: Api) -> None:
    placement = api.placement()
    body = offer_body([placement])
    body["representations"][0]["components"] = [{"type": "html", "format": "text/html"}]
    r = api.post("/offers?offer-type=personalized", body)
    assert_problem(r, 400, pointer="/representations/0/components/0")


# -- library rules (422) ------------------------------------------------------------------------


def test_unknown_reference_is_422(api: Api) -> None:
    r = api.post(
        "/offers?offer-type=personalized", offer_body(["dps:offer-placement:0000000000000000"])
    )
    body = assert_problem(r, 422, "invalid-reference", pointer="/representations/0/placement")
    assert body["detail"] == "the personalized offer breaks the library's rules"
    assert body["errors"] == [
        {
            "pointer": "/representations/0/placement",
            "message": "there is no placement dps:offer-placement:0000000000000000 in this sandbox",
            "code": "invalid-reference",
        }
    ]


def test_reference_to_the_wrong_kind_is_422(api: Api) -> None:
    tag = api.tag()
    r = api.post("/offers?offer-type=personalized", offer_body([tag]))
    body = assert_problem(r, 422, "invalid-reference", pointer="/representations/0/placement")
    assert body["errors"][0]["message"] == f"{tag} is a collection qualifier, not a placement"


def test_all_rule_breaks_are_reported_at_once(api: Api) -> None:
    tag = api.tag()
    body = offer_body(["dps:offer-placement:0000000000000000"], tags=["dps:tag:nope", tag])
    body["selectionConstraint"]["endDate"] = "2020-01-01T00:00:00Z"
    r = api.post("/offers?offer-type=personalized", body)
    problem = assert_problem(r, 422, "rule-violation")
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers == {"/representations/0/placement", "/tags/0", "/selectionConstraint/endDate"}


def test_start_after_end_is_422(api: Api) -> None:
    r = api.post(
        "/offer-decisions",
        {"name": "d", "startDate": "2025-01-02T00:00:00Z", "endDate": "2025-01-01T00:00:00Z"},
    )
    body = assert_problem(r, 422, "rule-violation", pointer="/endDate")
    assert body["errors"][0]["message"] == (
        "endDate 2025-01-01T00:00:00.000+00:00 is before startDate 2025-01-02T00:00:00.000+00:00"
    )


def test_illegal_offer_status_change_is_422(api: Api) -> None:
    placement = api.placement()
    offer = api.offer([placement], status="archived")
    r = api.patch(
        f"/offers/{offer}?offer-type=personalized",
        [{"op": "replace", "path": "/status", "value": "approved"}],
    )
    body = assert_problem(r, 422, "illegal-status-change", pointer="/status")
    assert "archived is final" in body["errors"][0]["message"]


def test_illegal_decision_status_change_is_422(api: Api) -> None:
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    decision = api.decision(
        [placement], api.collection([api.offer([placement])]), fallback, status="live"
    )
    r = api.patch(
        f"/offer-decisions/{decision}", [{"op": "replace", "path": "/status", "value": "draft"}]
    )
    body = assert_problem(r, 422, "illegal-status-change", pointer="/status")
    assert body["errors"][0]["message"] == (
        "status cannot change from live to draft (allowed from live: archived, complete)"
    )


# -- etags --------------------------------------------------------------------------------------


def test_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    tag = api.tag("first")
    ok = api.patch(
        f"/tags/{tag}",
        [{"op": "replace", "path": "/name", "value": "second"}],
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = api.patch(
        f"/tags/{tag}",
        [{"op": "replace", "path": "/name", "value": "third"}],
        headers={"If-Match": '"1"'},
    )
    body = assert_problem(stale, 412, "stale-etag", parameter="If-Match")
    assert body["current_etag"] == 2
    assert_problem(api.delete(f"/tags/{tag}", headers={"If-Match": "1"}), 412)
    assert api.get(f"/tags/{tag}").json()["name"] == "second"


def test_if_none_match_gives_304(api: Api) -> None:
    tag = api.tag()
    r = api.get(f"/tags/{tag}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == '"1"'
    assert api.get(f"/tags/{tag}", headers={"If-None-Match": '"7"'}).status_code == 200


# -- deletes ------------------------------------------------------------------------------------


def test_deleting_a_referenced_object_is_409_naming_the_referrers(api: Api) -> None:
    placement = api.placement()
    offer = api.offer([placement])
    fallback = api.offer([placement], kind="fallback")
    r = api.delete(f"/placements/{placement}")
    body = assert_problem(r, 409, "still-referenced", pointer="/representations/0/placement")
    assert {x["id"] for x in body["referrers"]} == {offer, fallback}
    assert offer in body["detail"] and fallback in body["detail"]
    assert api.get(f"/placements/{placement}").status_code == 200
    assert api.delete(f"/offers/{offer}?offer-type=personalized").status_code == 200
    assert api.delete(f"/offers/{fallback}?offer-type=fallback").status_code == 200
    r = api.delete(f"/placements/{placement}")
    assert r.status_code == 200 and r.content == b""
    assert_problem(api.get(f"/placements/{placement}"), 404, "not-found")
    assert_problem(api.delete(f"/placements/{placement}"), 404, "not-found")


# -- lists --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter", "code"),
    [
        ("property=name=~x", "property", "bad-filter"),
        ("property=", "property", "bad-filter"),
        ("property=na%20me==x", "property", "bad-filter"),
        ("property=name~(", "property", "bad-filter"),
        ("orderby=-", "orderby", "bad-orderby"),
        ("orderby=name,,id", "orderby", "bad-orderby"),
        ("limit=0", "limit", "bad-limit"),
        ("limit=1001", "limit", "bad-limit"),
        ("limit=ten", "limit", "bad-limit"),
        ("start=not-a-cursor", "start", "bad-cursor"),
        ("href=bm90IGEgY3Vyc29y", "href", "bad-cursor"),
    ],
)
def test_bad_list_parameters_are_400(api: Api, query: str, parameter: str, code: str) -> None:
    assert_problem(api.get(f"/tags?{query}"), 400, code, parameter=parameter)


def test_a_cursor_needs_its_own_orderby(api: Api) -> None:
    for i in range(3):
        api.tag(f"t{i}")
    nxt = api.get("/tags?limit=1&orderby=name").json()["_links"]["next"]["href"]
    start = nxt.split("start=")[1]
    assert_problem(
        api.get(f"/tags?limit=1&orderby=-name&start={start}"), 400, "bad-cursor", parameter="start"
    )


def test_paging_past_the_end_is_an_empty_page_that_leads_back(api: Api) -> None:
    tags = [api.tag(f"t{i}") for i in range(3)]
    first = api.get("/tags?limit=2&orderby=name").json()
    api.delete(f"/tags/{tags[2]}")  # the rest of the list goes away before page two is read
    r = api.get(first["_links"]["next"]["href"])
    assert r.status_code == 200
    body = r.json()
    assert body["results"] == [] and body["count"] == 0 and body["total"] == 2
    assert "next" not in body["_links"]
    back = api.get(body["_links"]["prev"]["href"]).json()
    assert [x["name"] for x in back["results"]] == ["t0", "t1"]


def test_offer_type_is_required_and_checked(api: Api) -> None:
    assert_problem(api.get("/offers"), 400, "bad-offer-type", parameter="offer-type")
    assert_problem(
        api.get("/offers?offer-type=both"), 400, "bad-offer-type", parameter="offer-type"
    )
    placement = api.placement()
    offer = api.offer([placement])
    assert api.get(f"/offers/{offer}?offer-type=PERSONALIZED").status_code == 200
    assert_problem(api.get(f"/offers/{offer}?offer-type=fallback"), 404, "not-found")


def test_unknown_endpoint_and_method_are_problems(api: Api) -> None:
    assert_problem(api.get("/nothing-here"), 404, "not-found")
    assert_problem(
        api.put("/tags/dps:tag:0000000000000000", {"name": "x"}), 405, "method-not-allowed"
    )


def test_unusable_ids_are_404(api: Api) -> None:
    assert_problem(api.get("/tags/has%20space"), 404, "not-found", parameter="id")


# -- patches ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "pointer"),
    [
        ({"op": "replace"}, ""),
        ([{"op": "frobnicate", "path": "/name"}], "/0/op"),
        ([{"op": "replace", "path": "name", "value": "x"}], "/0/path"),
        ([{"op": "add", "path": "/name"}], "/0/value"),
        ([{"op": "move", "path": "/name"}], "/0/from"),
        (["replace"], "/0"),
    ],
)
def test_malformed_patch_is_400(api: Api, ops: object, pointer: str) -> None:
    tag = api.tag()
    assert_problem(api.patch(f"/tags/{tag}", ops), 400, "invalid-patch", pointer=pointer)


@pytest.mark.parametrize("path", ["/id", "/etag", "/created", "/createdBy", "/schemas/0", ""])
def test_system_fields_cannot_be_patched(api: Api, path: str) -> None:
    tag = api.tag()
    r = api.patch(f"/tags/{tag}", [{"op": "replace", "path": path, "value": "x"}])
    assert_problem(r, 422, "system-field", pointer="/0/path")


def test_failed_patch_test_is_409_and_applies_nothing(api: Api) -> None:
    tag = api.tag("before")
    ops = [
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "test", "path": "/etag", "value": 99},
    ]
    assert_problem(api.patch(f"/tags/{tag}", ops), 409, "patch-test-failed", pointer="/1")
    assert api.get(f"/tags/{tag}").json()["name"] == "before"
    ops[1]["value"] = 1
    assert api.patch(f"/tags/{tag}", ops).status_code == 200


def test_patch_that_breaks_the_schema_is_400(api: Api) -> None:
    tag = api.tag("before")
    stored = api.get(f"/tags/{tag}")
    ops = [
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "remove", "path": "/name"},
    ]
    assert_problem(api.patch(f"/tags/{tag}", ops), 400, "invalid-body", pointer="/name")
    again = api.get(f"/tags/{tag}")
    assert again.json() == stored.json()  # nothing applied, not even the first operation
    assert again.headers["etag"] == stored.headers["etag"]


def test_patch_of_a_missing_array_item_is_422(api: Api) -> None:
    placement = api.placement()
    offer = api.offer([placement])
    r = api.patch(
        f"/offers/{offer}?offer-type=personalized",
        [{"op": "replace", "path": "/tags/3", "value": "x"}],
    )
    assert_problem(r, 422, "patch-failed", pointer="/0")


def test_put_with_another_id_is_422(api: Api) -> None:
    formula = api.formula()
    r = api.put(
        f"/ranking-formulas/{formula}",
        {"id": "dps:ranking-function:0", "name": "f", "expression": {"value": "1"}},
    )
    assert_problem(r, 422, "system-field", pointer="/id")


# -- PQL ----------------------------------------------------------------------------------------


def test_a_rule_with_bad_pql_is_422_with_its_position(api: Api) -> None:
    body = {"name": "r", "condition": {"value": 'person.age >= 18 and\n  loyalty.tier == "gold"'}}
    problem = assert_problem(
        api.post("/offer-rules", body), 422, "invalid-pql", pointer="/condition/value"
    )
    error = problem["errors"][0]
    assert error["line"] == 2 and error["column"] >= 3 and "^" in error["excerpt"]
    assert error["message"].endswith(f"(line 2, column {error['column']})")
    assert error["code"] == "invalid-pql" and error["pqlCode"]
    assert api.get("/offer-rules").json()["total"] == 0


def test_a_rule_update_with_bad_pql_is_refused_and_changes_nothing(api: Api) -> None:
    rule = api.rule("person.age >= 18")
    r = api.patch(
        f"/offer-rules/{rule}",
        [{"op": "replace", "path": "/condition/value", "value": "person.age >="}],
    )
    assert_problem(r, 422, "invalid-pql", pointer="/condition/value")
    r = api.put(f"/offer-rules/{rule}", {"name": "r", "condition": {"value": '"a" > 1'}})
    assert_problem(r, 422, "invalid-pql", pointer="/condition/value")
    assert api.get(f"/offer-rules/{rule}").json()["condition"]["value"] == "person.age >= 18"


def test_a_formula_with_bad_pql_is_422(api: Api) -> None:
    r = api.post(
        "/ranking-formulas", {"name": "f", "expression": {"value": "offer.rank.priority *"}}
    )
    assert_problem(r, 422, "invalid-pql", pointer="/expression/value")
    # formulas may use their definedOn aliases as roots
    ok = {
        "name": "f",
        "expression": {"value": "if(offer.tags.intersects(boosted.tags), 2, 1)"},
        "definedOn": {"boosted": {"schema": {"altId": "_xdm.context.foo", "version": "0"}}},
    }
    assert api.post("/ranking-formulas", ok).status_code == 201


def test_a_custom_capping_condition_must_compile(api: Api) -> None:
    placement = api.placement()
    capping = [
        {"limit": 3, "event": "custom", "eventCondition": {"value": "commerce.checkouts.value >"}}
    ]
    r = api.post(
        "/offers?offer-type=personalized",
        offer_body([placement], frequencyCappingConstraints=capping),
    )
    assert_problem(
        r, 422, "invalid-pql", pointer="/frequencyCappingConstraints/0/eventCondition/value"
    )
    # every rule is checked, each at its own index
    good = {"limit": 3, "event": "custom", "eventCondition": {"value": "commerce.order.total > 1"}}
    r = api.post(
        "/offers?offer-type=personalized",
        offer_body([placement], frequencyCappingConstraints=[{"limit": 1}, good, *capping]),
    )
    body = assert_problem(
        r, 422, "invalid-pql", pointer="/frequencyCappingConstraints/2/eventCondition/value"
    )
    assert len(body["errors"]) == 1
