"""`POST /v1/pql/check`: a rule or formula compiled without saving, through the real app."""

from __future__ import annotations

import pytest

from nextoffer.pql.limits import MAX_RULE_BYTES
from tests.helpers import Api

CHECK = "/v1/pql/check"


def check(api: Api, body: object, **kwargs):
    return api.post(CHECK, body, **kwargs)


def test_a_valid_rule_lists_what_it_reads(api: Api) -> None:
    r = check(
        api,
        {
            "condition": 'profile.loyalty.tier = "gold" and inSegment("vip")\n'
            'and @{https://ns.adobe.com/xdm/context/device}.device.type = "mobile"\n'
            'and person.name.firstName.startsWith("A")',
            "kind": "rule",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "valid": True,
        "kind": "rule",
        "reads": {
            "profile": ["loyalty.tier", "person.name.firstName"],
            "context": [{"type": "https://ns.adobe.com/xdm/context/device", "path": "device.type"}],
            "events": [],
            "audiences": ["vip"],
            "offer": [],
            "aliases": [],
        },
    }


def test_kind_defaults_to_rule(api: Api) -> None:
    r = check(api, {"condition": "profile.age + 1"})
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] is False and body["kind"] == "rule"
    assert body["errors"][0]["phase"] == "type"


def test_a_syntax_error_has_its_position_span_and_hint(api: Api) -> None:
    r = check(api, {"condition": 'profile.age > 18\nand profile.city == "Paris"'})
    assert r.status_code == 200
    body = r.json()
    assert body["valid"] is False and "reads" not in body
    [error] = body["errors"]
    assert error["code"] == "double_equals"
    assert error["phase"] == "syntax"
    assert (error["line"], error["column"]) == (2, 19)
    assert (error["endLine"], error["endColumn"]) == (2, 20)
    assert error["hint"] == error["message"]
    assert "single '='" in error["hint"]
    assert error["excerpt"] == 'and profile.city == "Paris"\n' + " " * 18 + "^"


def test_a_doubled_operator_is_labelled_by_the_syntax_hints(api: Api) -> None:
    r = check(api, {"condition": "profile.a = 1 and and profile.b = 2"})
    [error] = r.json()["errors"]
    assert error["code"] == "doubled_operator"
    assert (error["line"], error["column"], error["endColumn"]) == (1, 19, 22)
    assert "nothing between them" in error["hint"]


def test_a_type_error_spans_the_offending_expression(api: Api) -> None:
    r = check(api, {"condition": 'profile.x = 2 or ["a", "b"].contains("a")'})
    [error] = r.json()["errors"]
    assert error["phase"] == "type"
    assert error["code"] == "wrong_target"
    assert (error["line"], error["column"], error["endColumn"]) == (1, 18, 42)
    assert error["hint"] == "use includes() on a list"


def test_a_type_error_without_a_known_fix_has_no_hint(api: Api) -> None:
    r = check(api, {"condition": "profile.tags.contains(1)"})
    [error] = r.json()["errors"]
    assert error["code"] == "type_mismatch"
    assert "hint" not in error


def test_an_unknown_function_suggests_the_closest_one(api: Api) -> None:
    r = check(api, {"condition": 'inSegmnt("gold")'})
    [error] = r.json()["errors"]
    assert error["code"] == "unknown_function"
    assert error["hint"] == "did you mean inSegment()?"
    assert (error["column"], error["endColumn"]) == (1, 9)


def test_a_costly_pattern_is_a_limit_error(api: Api) -> None:
    pattern = "%a" * 100
    r = check(api, {"condition": f'profile.name like "{pattern}"'})
    [error] = r.json()["errors"]
    assert error["phase"] == "limit"
    assert error["line"] == 1


def test_a_formula_checks_with_its_aliases(api: Api) -> None:
    body = {
        "condition": "offer.rank.priority * weather.temperature",
        "kind": "formula",
        "definedOn": {"weather": {"xdm:type": "https://example.com/weather"}},
    }
    r = check(api, body)
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True
    reads = r.json()["reads"]
    assert reads["offer"] == ["rank.priority"]
    assert reads["aliases"] == [{"alias": "weather", "path": "temperature"}]
    assert reads["profile"] == []
    r = check(api, {**body, "definedOn": None})  # without the alias, a profile path
    assert r.json()["reads"]["profile"] == ["weather.temperature"]


def test_a_rule_over_the_size_limit_is_the_limit_error_a_save_gives(api: Api) -> None:
    text = "profile.a = 1 or " * ((MAX_RULE_BYTES // 17) + 1) + "profile.a = 2"
    r = check(api, {"condition": text})
    assert r.status_code == 200
    [error] = r.json()["errors"]
    assert error["code"] == "rule_too_large"
    assert error["phase"] == "limit"


def test_a_body_over_64_kib_is_413(api: Api) -> None:
    r = check(api, {"condition": "x" * (64 * 1024)})
    assert r.status_code == 413
    assert r.json()["code"] == "too-large"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/condition"),
        ({"condition": 3}, "/condition"),
        ({"condition": "a", "kind": "expression"}, "/kind"),
        ({"condition": "a", "color": "red"}, ""),
    ],
)
def test_a_bad_body_is_400_naming_the_field(api: Api, body: dict, pointer: str) -> None:
    r = check(api, body)
    assert r.status_code == 400
    problem = r.json()
    assert problem["code"] == "invalid-body"
    assert problem["errors"][0]["pointer"] == pointer


def test_aliases_on_a_rule_are_400(api: Api) -> None:
    r = check(api, {"condition": "a = 1", "definedOn": {"w": {}}})
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/definedOn"


def test_malformed_json_is_400(api: Api) -> None:
    r = api.request("POST", CHECK, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "malformed-json"


def test_wrong_media_type_is_415(api: Api) -> None:
    r = api.request("POST", CHECK, content=b"a = 1", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["errors"][0]["parameter"] == "Content-Type"


def test_credentials_are_required(api: Api) -> None:
    r = check(api, {"condition": "a = 1"}, headers={"Authorization": None})
    assert r.status_code == 401
    limited = Api(api.client, api.org, "prod", "limited-token", "limited-key", create_sandbox=False)
    r = check(limited, {"condition": "a = 1"})
    assert r.status_code == 403


def test_checking_saves_nothing(api: Api) -> None:
    check(api, {"condition": 'profile.tier = "gold"'})
    r = api.get("/eligibility-rules")
    assert r.status_code == 200
    assert r.json()["results"] == []


def test_an_unknown_sandbox_is_404(api: Api) -> None:
    r = check(api.other_sandbox("dev"), {"condition": "a = 1"}, headers={"x-sandbox-name": "nope"})
    assert r.status_code == 404
    assert r.json()["code"] == "unknown-sandbox"
