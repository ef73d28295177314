"""The experience-event parser: what each event means, and every way one can be malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from nextoffer.errors import InvalidInput
from nextoffer.wire.events import parse_event

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def example(spec_dir, name: str) -> dict:
    return json.loads((spec_dir / "examples" / name).read_text())


def test_documented_display_notification_is_an_impression_of_its_items(spec_dir) -> None:
    event = parse_event(
        example(spec_dir, "decisioning.edge.notification-display.xdm.json")["xdm"], "/xdm", NOW
    )
    assert event.kind == "impression"
    assert [(s.proposition_id, s.offer_ids) for s in event.shown] == [
        ("e15ecb09-993e-4b66-93d8-0a4c77e3d913", ("xcore:personalized-offer:173b4e05676d87f5",))
    ]
    assert event.kept
    assert event.xdm["timestamp"] == "2026-11-26T12:00:00.000+00:00"  # stamped on arrival


def test_documented_interact_notification_is_a_click(spec_dir) -> None:
    event = parse_event(
        example(spec_dir, "decisioning.edge.notification-interact.xdm.json")["xdm"], "/xdm", NOW
    )
    assert event.kind == "click"
    assert event.shown[0].pointer == "/xdm/_experience/decisioning/propositions/0"


def test_journey_optimizer_feedback_dataset_form_is_understood(spec_dir) -> None:
    event = parse_event(example(spec_dir, "decisioning.feedback-event.ajo-sample.json"), "", NOW)
    assert event.kind == "impression"
    assert event.timestamp == datetime(2023, 9, 26, 15, 52, 25, tzinfo=UTC)
    assert event.shown[0].offer_ids == (
        "personalized-offer:f67bab756ed6ee4",
        "personalized-offer:f67bab756ed6ee5",
    )


@pytest.mark.parametrize(
    ("xdm", "kind"),
    [
        ({}, "fetch"),
        ({"eventType": "decisioning.propositionFetch"}, "fetch"),
        ({"eventType": "commerce.purchases"}, "custom"),
        ({"eventType": "web.webpagedetails.pageViews"}, "custom"),
        (
            {
                "_experience": {
                    "decisioning": {
                        "propositionEventType": {"interact": 1},
                        "propositions": [{"id": "p", "items": [{"id": "o"}]}],
                    }
                }
            },
            "click",
        ),
    ],
)
def test_event_kinds(xdm: dict, kind: str) -> None:
    event = parse_event(xdm, "/xdm", NOW)
    assert event.kind == kind
    assert event.kept == (kind != "fetch")


def test_identities_put_the_primary_one_first() -> None:
    event = parse_event(
        {
            "eventType": "commerce.purchases",
            "timestamp": "2026-11-25T08:00:00+01:00",
            "identityMap": {
                "ECID": [{"id": "123"}],
                "email": [{"id": "a@b.c", "primary": True}],
            },
        },
        "/xdm",
        NOW,
    )
    assert event.identities == (("email", "a@b.c"), ("ECID", "123"))
    assert event.xdm["timestamp"] == "2026-11-25T07:00:00.000+00:00"


@pytest.mark.parametrize(
    ("xdm", "pointer", "words"),
    [
        ([], "/xdm", "must be an object"),
        ({"eventType": 3}, "/xdm/eventType", "non-empty string"),
        ({"eventType": "x", "timestamp": "yesterday"}, "/xdm/timestamp", "RFC 3339"),
        ({"eventType": "x", "timestamp": 5}, "/xdm/timestamp", "RFC 3339"),
        ({"identityMap": []}, "/xdm/identityMap", "identityMap is an object"),
        ({"identityMap": {"email": [{"id": ""}]}}, "/xdm/identityMap/email/0", "an id, a string"),
        (
            {"eventType": "decisioning.propositionDisplay"},
            "/xdm/_experience/decisioning/propositions",
            "names the propositions",
        ),
        (
            {
                "eventType": "decisioning.propositionDisplay",
                "_experience": {"decisioning": {"propositions": {}}},
            },
            "/xdm/_experience/decisioning/propositions",
            "must be a list",
        ),
        (
            {
                "eventType": "decisioning.propositionInteract",
                "_experience": {"decisioning": {"propositions": [{"items": []}]}},
            },
            "/xdm/_experience/decisioning/propositions/0/id",
            "needs its id",
        ),
        (
            {
                "eventType": "decisioning.propositionInteract",
                "_experience": {"decisioning": {"propositions": [{"id": "p", "items": [{}]}]}},
            },
            "/xdm/_experience/decisioning/propositions/0/items/0/id",
            "id of the offer",
        ),
    ],
)
def test_malformed_events_name_the_field(xdm: object, pointer: str, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event(xdm, "/xdm", NOW)
    assert err.value.errors[0].pointer == pointer
    assert words in err.value.detail
