"""Every worked expression in the spec's examples parses and evaluates as documented."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nextoffer.pql import compile_formula, compile_rule

from .conftest import NOW, make_env

EXAMPLES_FILE = Path("/work/shared/spec/examples/decisioning.pql-examples.json")
_LOCAL_COPY = Path(__file__).with_name("pql-examples.json")
CTX = "_xdm.context.additionalParameters;version=1"


def _examples() -> list[dict[str, str]]:
    path = EXAMPLES_FILE if EXAMPLES_FILE.exists() else _LOCAL_COPY
    return json.loads(path.read_text())


def _iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


def _flights(n: int, number: str = "LH400", days_apart: int = 20) -> list[dict[str, Any]]:
    return [
        {
            "type": "flight",
            "flightnumber": number,
            "timestamp": _iso(-timedelta(days=days_apart * i)),
        }
        for i in range(n)
    ]


_OFFER = {"id": "xcore:personalized-offer:1", "rank": {"priority": 10}}

# use -> [(env keyword arguments, expected value)]; a rule's expected value is test().
CASES: dict[str, list[tuple[dict[str, Any], Any]]] = {
    "eligibility rule (profile attribute)": [
        ({"profile": {"person": {"name": {"firstName": "JOE"}}}}, True),
        ({"profile": {"person": {"name": {"firstName": "Joanna"}}}}, False),
        ({"profile": {}}, False),
    ],
    "eligibility rule (audience membership + attribute)": [
        (
            {
                "profile": {"billingAddress": {"city": "San Jose"}},
                "segments": {"849807b6-0a76-4895-96d9-89996477f23b": "realized"},
            },
            True,
        ),
        (
            {
                "profile": {"billingAddress": {"city": "San Jose"}},
                "segments": {"849807b6-0a76-4895-96d9-89996477f23b": "exited"},
            },
            False,
        ),
        ({"profile": {"billingAddress": {"city": "San Jose"}}}, False),
    ],
    "eligibility rule, Decisioning API context data": [
        ({"context": {CTX: {"xdm:channel": "mobile"}}}, True),
        ({"context": {CTX: {"channel": "mobile"}}}, True),
        ({"context": {CTX: {"xdm:channel": "web"}}}, False),
        ({"context": {CTX: {"xdm:channel": ""}}}, False),
        ({"context": {}}, False),
    ],
    "eligibility rule, Edge context data (experience event)": [
        (
            {"events": [{"_experienceplatform": {"offerContextData": {"deviceType": "iPhone"}}}]},
            True,
        ),
        (
            {"events": [{"_experienceplatform": {"offerContextData": {"deviceType": "pixel"}}}]},
            False,
        ),
        ({"events": []}, False),
    ],
    "eligibility rule with events and context (AEP runtime era)": [
        (
            {
                "profile": {"membership": {"status": "elite"}},
                "events": _flights(4),
                "context": {"SCHEMA_ID": {"flightnumber": "LH400"}},
            },
            True,
        ),
        (  # only three flights in the last six months
            {
                "profile": {"membership": {"status": "elite"}},
                "events": _flights(4, days_apart=70),
                "context": {"SCHEMA_ID": {"flightnumber": "LH400"}},
            },
            False,
        ),
        (
            {
                "profile": {"membership": {"status": "gold"}},
                "events": _flights(5),
                "context": {"SCHEMA_ID": {"flightnumber": "LH400"}},
            },
            False,
        ),
    ],
    "ranking: double priority when city matches": [
        (
            {
                "profile": {"homeAddress": {"city": "Lyon"}},
                "offer": {**_OFFER, "characteristics": {"city": "Lyon"}},
            },
            20,
        ),
        (
            {
                "profile": {"homeAddress": {"city": "Nice"}},
                "offer": {**_OFFER, "characteristics": {"city": "Lyon"}},
            },
            10,
        ),
        ({"profile": {}, "offer": _OFFER}, 10),
    ],
    "ranking: boost offers ending within 24h": [
        ({"offer": {**_OFFER, "selectionConstraint": {"endDate": _iso(timedelta(hours=5))}}}, 30),
        ({"offer": {**_OFFER, "selectionConstraint": {"endDate": _iso(timedelta(hours=30))}}}, 10),
        ({"offer": {**_OFFER, "selectionConstraint": {"endDate": _iso(-timedelta(hours=1))}}}, 10),
        ({"offer": _OFFER}, 10),
    ],
    "ranking: context data (Decisioning API)": [
        (
            {
                "context": {CTX: {"xdm:weather": "sunny"}},
                "offer": {**_OFFER, "characteristics": {"weather": "sunny"}},
            },
            15,
        ),
        (
            {
                "context": {CTX: {"xdm:weather": "rain"}},
                "offer": {**_OFFER, "characteristics": {"weather": "sunny"}},
            },
            10,
        ),
        ({"offer": {**_OFFER, "characteristics": {"weather": "sunny"}}}, 10),
    ],
    "ranking: context data (Edge)": [
        (
            {
                "events": [{"_acme": {"weather": "snow"}}],
                "offer": {**_OFFER, "characteristics": {"weather": "snow"}},
            },
            15,
        ),
        (  # the current event is the most recent one
            {
                "events": [{"_acme": {"weather": "sun"}}, {"_acme": {"weather": "snow"}}],
                "offer": {**_OFFER, "characteristics": {"weather": "snow"}},
            },
            10,
        ),
        ({"offer": _OFFER}, 10),
    ],
    "ranking: propensity lookup in profile array": [
        (
            {
                "profile": {
                    "_salesvelocity": {
                        "individualScoring": [
                            {"core": {"category": "cards", "propensityScore": 0.8}},
                            {"core": {"category": "Loans", "propensityScore": 0.3}},
                        ]
                    }
                },
                "offer": {**_OFFER, "characteristics": {"propensityType": "loans"}},
            },
            0.3,
        ),
        ({"profile": {}, "offer": {**_OFFER, "characteristics": {"propensityType": "loans"}}}, 10),
    ],
    "ranking: audience membership via segmentMembership map (commented-out example)": [
        (
            {
                "segments": {"s1": "existing"},
                "offer": {**_OFFER, "characteristics": {"prioritySegmentId": "s1"}},
            },
            20,
        ),
        (
            {
                "segments": {"s1": "realized"},
                "offer": {**_OFFER, "characteristics": {"prioritySegmentId": "s1"}},
            },
            20,
        ),
        (
            {
                "segments": {"s1": "exited"},
                "offer": {**_OFFER, "characteristics": {"prioritySegmentId": "s1"}},
            },
            10,
        ),
        ({"offer": _OFFER}, 10),
    ],
    "ranking: boost by offer id (commented-out example)": [
        ({"offer": {**_OFFER, "id": "xcore:personalized-offer:13d213cd4cb328ec"}}, 15),
        ({"offer": _OFFER}, 10),
    ],
    "ranking: nested if with negative score to demote": [
        (
            {
                "profile": {"_luma": {"zipCode": "95110", "annualIncome": 150000}},
                "offer": {**_OFFER, "_luma": {"offerDetails": {"zipCode": "95110"}}},
            },
            10150.0,
        ),
        (  # no zip code on the offer (the formula's `offer.luma...` branch): income only
            {"profile": {"_luma": {"zipCode": "95110", "annualIncome": 150000}}, "offer": _OFFER},
            150.0,
        ),
        (  # an offer for another zip code is demoted
            {
                "profile": {"_luma": {"zipCode": "95110", "annualIncome": 150000}},
                "offer": {**_OFFER, "luma": {"offerDetails": {"zipCode": "10001"}}},
            },
            -9999,
        ),
    ],
}


def _text(example: dict[str, str]) -> str:
    return example["pql"].replace("<OrgID>", "_acme")


def test_every_example_has_cases() -> None:
    assert {e["use"] for e in _examples()} == set(CASES)


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e["use"])
def test_example_evaluates_as_documented(example: dict[str, str]) -> None:
    text = _text(example)
    is_rule = example["use"].startswith("eligibility")
    compiled = compile_rule(text) if is_rule else compile_formula(text)
    for env_kwargs, expected in CASES[example["use"]]:
        env = make_env(**env_kwargs)
        value = compiled.evaluate(env)
        assert value == compiled.interpret(env)
        got = compiled.test(env) if is_rule else value
        assert got == expected, (text, env_kwargs, value)
