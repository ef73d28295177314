"""A small library with one capped offer, as plain documents (catalog) or a portable import."""

from __future__ import annotations

from typing import Any

WEB = "https://ns.adobe.com/xdm/channel-types/web"
P1, P2 = "dps:offer-placement:p1", "dps:offer-placement:p2"
CAPPED, OTHER = "dps:personalized-offer:capped", "dps:personalized-offer:other"
FALLBACK = "dps:fallback-offer:fallback"
DECISION = "dps:offer-activity:decision"
COLLECTION = "dps:offer-filter:all"


def _representations() -> list[dict[str, Any]]:
    return [
        {
            "channel": WEB,
            "placement": p,
            "components": [{"type": "html", "format": "text/html", "content": "x"}],
        }
        for p in (P1, P2)
    ]


def rule(
    limit: int,
    *,
    event: str = "decision",
    per_profile: bool = False,
    per_placement: bool = False,
    unit: str | None = None,
    count: int = 1,
    condition: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "enabled": True,
        "limit": limit,
        "scope": "profile" if per_profile else "global",
        "entity": "placement" if per_placement else "offer",
        "event": event,
        **extra,
    }
    if unit is not None:
        out["repeat"] = {"enabled": True, "unit": unit, "unitCount": count}
    if condition is not None:
        out["eventCondition"] = {"type": "PQL", "format": "pql/text", "value": condition}
    return out


def documents(rules: list[dict[str, Any]], legacy: dict[str, int] | None = None) -> dict:
    """`kind -> id -> read model`: the capped offer (priority 10) beats the other (0)."""
    capped: dict[str, Any] = {
        "id": CAPPED,
        "name": "capped",
        "status": "approved",
        "rank": {"priority": 10},
        "representations": _representations(),
        "selectionConstraint": {"profileConstraintType": "none"},
        "frequencyCappingConstraints": rules,
        "tags": [],
    }
    if legacy is not None:
        capped["cappingConstraint"] = legacy
    other = {**capped, "id": OTHER, "name": "other", "rank": {"priority": 0}}
    other.pop("cappingConstraint", None)
    other["frequencyCappingConstraints"] = []
    return {
        "offer-placement": {
            p: {"id": p, "name": p, "channel": WEB, "componentType": "html", "itemCount": 1}
            for p in (P1, P2)
        },
        "personalized-offer": {CAPPED: capped, OTHER: other},
        "fallback-offer": {
            FALLBACK: {
                "id": FALLBACK,
                "name": "fallback",
                "status": "approved",
                "representations": _representations(),
            }
        },
        "offer-filter": {
            COLLECTION: {
                "id": COLLECTION,
                "name": "all",
                "filterType": "offers",
                "ids": [CAPPED, OTHER],
            }
        },
        "offer-activity": {
            DECISION: {
                "id": DECISION,
                "name": "decision",
                "status": "live",
                "fallback": FALLBACK,
                "criteria": [
                    {
                        "placements": [P1, P2],
                        "optionSelection": {"filter": COLLECTION},
                        "rank": {"priority": 0},
                    }
                ],
            }
        },
    }


def portable(rules: list[dict[str, Any]], legacy: dict[str, int] | None = None) -> dict:
    """The same library as a `nextoffer-library` import."""
    docs = documents(rules, legacy)
    return {
        "format": "nextoffer-library",
        "version": 1,
        "objects": {kind: list(items.values()) for kind, items in docs.items()},
    }


def decision_body(placement: str = P1, email: str = "ada@example.com", **extra: Any) -> dict:
    return {
        "xdm:propositionRequests": [{"xdm:activityId": DECISION, "xdm:placementId": placement}],
        "xdm:profiles": [{"xdm:identityMap": {"Email": [{"xdm:id": email, "primary": True}]}}],
        **extra,
    }


def proposed(response_json: dict) -> list[str]:
    """The offer ids proposed in every proposition (the fallback counts as its id)."""
    out = []
    for prop in response_json["xdm:propositions"]:
        out += [o["xdm:id"] for o in prop.get("xdm:options", ())]
        if "xdm:fallback" in prop:
            out.append(prop["xdm:fallback"]["xdm:id"])
    return out
