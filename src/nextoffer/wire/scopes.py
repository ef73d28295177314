"""Decision scopes as the Web SDK sends them: base64 of a small JSON object.

`{"activityId": ..., "placementId": ..., "itemCount": n}` — or with `xdm:` prefixed keys, as
strings copied from the Journey Optimizer UI are. Anything else in `decisionScopes` (such as
`__view__` for Target view-based personalization) is not a decision scope and is ignored.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

MAX_ITEM_COUNT = 30


@dataclass(frozen=True, slots=True)
class DecisionScope:
    token: str
    """The string as sent, echoed back in the proposition."""
    activity_id: str
    placement_id: str
    item_count: int | None


class ScopeError(ValueError):
    """A scope that names a decision but says it wrongly (bad itemCount, ids not strings)."""


def decode_scope(token: str) -> DecisionScope | None:
    """The decision scope a token encodes; None when it is not a decision scope at all."""
    if not token or token.startswith("__"):
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    activity = data.get("activityId", data.get("xdm:activityId"))
    placement = data.get("placementId", data.get("xdm:placementId"))
    if activity is None and placement is None:
        return None
    if (
        not isinstance(activity, str)
        or not activity
        or not isinstance(placement, str)
        or not placement
    ):
        raise ScopeError("a decision scope needs activityId and placementId strings")
    count = data.get("itemCount", data.get("xdm:itemCount"))
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ITEM_COUNT
    ):
        raise ScopeError(f"itemCount must be an integer from 1 to {MAX_ITEM_COUNT}")
    return DecisionScope(token, activity, placement, count)


def scope_token(
    activity_id: str, placement_id: str | None = None, item_count: int | None = None
) -> str:
    """The base64 "encoded decision scope": what the Web SDK sends in `decisionScopes` and what
    every decision response (Decisioning API, Edge, batch) returns with a proposition; v0.9
    responses name the activity only."""
    scope: dict[str, object] = {"xdm:activityId": activity_id}
    if placement_id is not None:
        scope["xdm:placementId"] = placement_id
    if item_count is not None:
        scope["xdm:itemCount"] = item_count
    return base64.b64encode(orjson.dumps(scope)).decode()
