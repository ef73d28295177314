"""Decision scope tokens: base64 JSON as the Web SDK and Journey Optimizer write them."""

from __future__ import annotations

import base64

import orjson
import pytest

from nextoffer.wire.scopes import DecisionScope, ScopeError, decode_scope, scope_token
from tests.edge.conftest import documented_scopes


def test_documented_scope_strings_decode() -> None:
    for variant in documented_scopes():
        decoded = decode_scope(variant["base64"])
        assert decoded is not None
        assert decoded.activity_id == variant["json"].get(
            "activityId", variant["json"].get("xdm:activityId")
        )
        assert decoded.item_count == variant["json"].get("itemCount")
    assert decode_scope("__view__") is None
    assert decode_scope("not base64 at all!") is None
    assert decode_scope(base64.b64encode(b'{"name": "mbox"}').decode()) is None


def test_a_scope_encodes_and_decodes_back() -> None:
    token = scope_token("a1", "p1", 3)
    assert decode_scope(token) == DecisionScope(token, "a1", "p1", 3)
    unpadded = token.rstrip("=")
    assert decode_scope(unpadded) == DecisionScope(unpadded, "a1", "p1", 3)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"activityId": "a1"}, "activityId and placementId strings"),
        ({"activityId": 1, "placementId": "p1"}, "activityId and placementId strings"),
        ({"activityId": "a1", "placementId": "p1", "itemCount": 0}, "from 1 to 30"),
        ({"activityId": "a1", "placementId": "p1", "itemCount": True}, "from 1 to 30"),
    ],
)
def test_a_scope_that_names_a_decision_wrongly_is_an_error(scope: dict, message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        decode_scope(base64.b64encode(orjson.dumps(scope)).decode())
