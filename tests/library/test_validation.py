"""The schema gate (400) and how a stored document is normalised, through the API."""

from __future__ import annotations

import pytest

from tests.helpers import WEB, Api, assert_problem, offer_body

OFFERS = "/offers?offer-type=personalized"


def _errors(r) -> list[dict]:
    return assert_problem(r, 400, "invalid-body")["errors"]


@pytest.mark.parametrize(
    ("change", "pointer", "message"),
    [
        ({"name": None}, "/name", "this field is required"),
        ({"stauts": "draft"}, "/stauts", "unknown field (tenant fields must start with _)"),
        ({"rank": {"priority": 1, "weight": 2}}, "/rank/weight", "unknown field"),
        (
            {"frequencyCappingConstraints": [{"limit": 1, "event": "custom"}]},
            "/frequencyCappingConstraints/0",
            "a custom capping event needs an eventCondition (PQL over the event)",
        ),
        (
            {"characteristics": {"a/b~c": 1}},
            "/characteristics/a~1b~0c",
            "Input should be a valid string",
        ),
    ],
)
def test_schema_errors_are_located_and_worded(
    api: Api, change: dict, pointer: str, message: str
) -> None:
    body = offer_body([api.placement()], status="draft")
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    r = api.post(OFFERS, body)
    assert _errors(r) == [{"pointer": pointer, "message": message}]
    assert r.json()["detail"] == "the personalized offer does not match its schema"


@pytest.mark.parametrize(
    ("path", "body", "what"),
    [("/tags", ["x"], "collection qualifier"), ("/offer-decisions", "x", "decision")],
)
def test_a_body_that_is_not_an_object_is_named(
    api: Api, path: str, body: object, what: str
) -> None:
    problem = assert_problem(api.post(path, body), 400, "invalid-input")
    assert problem["errors"] == [
        {"pointer": "", "message": f"the body must be a JSON object describing a {what}"}
    ]


def test_a_stored_document_is_normalised(api: Api) -> None:
    placement = api.placement()
    body = {
        "_acme": {"n": 1},
        "rank": {"priority": 3},
        "representations": [
            {
                "components": [{"content": "<p>x</p>", "format": "text/html", "type": "html"}],
                "placement": placement,
                "channel": WEB,
            }
        ],
        "description": None,
        "name": "normalised",
    }
    offer = api.create(OFFERS, body)
    stored = api.get(f"/offers/{offer}?offer-type=personalized").json()
    # explicit nulls dropped, the initial status filled in, tenant fields kept as sent (the order
    # of fields is not part of the contract: PostgreSQL's jsonb does not keep it)
    fields = set(stored) - {"created", "modified", "etag", "schemas", "createdBy", "lastModifiedBy"}
    assert fields == {"id", "name", "status", "representations", "rank", "_acme"}
    assert stored["status"] == "draft" and stored["_acme"] == {"n": 1}
    assert stored["representations"][0]["components"][0]["content"] == "<p>x</p>"
