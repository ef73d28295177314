"""The Decisioning API's responses, v1.0 and v0.9: propositions with the content and metadata
the request's response format (or the placement's `returnMetaData`) asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nextoffer.engine import Offer, Placement, Proposition
from nextoffer.vocabulary import component_uri
from nextoffer.wire.calls import DecideResult
from nextoffer.wire.content import content_fields
from nextoffer.wire.decisioning import AnyRequest, DecisionRequest, ResponseFormat
from nextoffer.wire.scopes import scope_token


@dataclass(frozen=True, slots=True)
class Shape:
    """What to put in each proposition: content, and which metadata of which entity."""

    content: bool
    activity: frozenset[str]
    option: frozenset[str]
    placement: frozenset[str]

    @classmethod
    def of(cls, fmt: ResponseFormat | None, placement: Placement) -> Shape:
        flags = placement.doc.get("returnMetaData") or {}
        content = fmt.include_content if fmt and fmt.include_content is not None else None
        if content is None:
            content = bool(placement.return_content)
        if fmt and fmt.include_metadata is not None:
            meta = fmt.include_metadata
            return cls(
                content, frozenset(meta.activity), frozenset(meta.option), frozenset(meta.placement)
            )
        option = {
            "name": "offerName",
            "characteristics": "offerAttributes",
            "priority": "offerPriority",
        }
        place = {"name": "placementName", "channel": "channelType", "componentType": "contentType"}
        return cls(
            content,
            frozenset({"name"} if flags.get("decisionName") else ()),
            frozenset(k for k, flag in option.items() if flags.get(flag)),
            frozenset(k for k, flag in place.items() if flags.get(flag)),
        )


def option_detail(
    offer: Offer, placement_id: str, shape: Shape, score: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"xdm:id": offer.id, "repo:etag": str(offer.etag)}
    if shape.content:
        out.update(content_fields(offer, placement_id))
    if "name" in shape.option:
        out["xdm:name"] = offer.name
    if "characteristics" in shape.option and offer.characteristics:
        out["xdm:characteristics"] = dict(offer.characteristics)
    if "priority" in shape.option:
        out["xdm:priority"] = offer.priority
    if score is not None:
        out["xdm:score"] = score
    return out


def proposition_v1(prop: Proposition, fmt: ResponseFormat | None) -> dict[str, Any]:
    placement = prop.placement
    shape = Shape.of(fmt, placement)
    activity: dict[str, Any] = {"xdm:id": prop.decision.id, "repo:etag": str(prop.decision.etag)}
    if "name" in shape.activity:
        activity["xdm:name"] = prop.decision.name
    place: dict[str, Any] = {"xdm:id": placement.id, "repo:etag": str(placement.etag)}
    if "name" in shape.placement:
        place["xdm:name"] = placement.name
    if "channel" in shape.placement:
        place["xdm:channel"] = placement.channel
    if "componentType" in shape.placement:
        place["xdm:componentType"] = component_uri(placement.component_type)
    out: dict[str, Any] = {
        "xdm:activity": activity,
        "xdm:placement": place,
        "xdm:scope": scope_token(prop.decision.id, placement.id),
    }
    if prop.options:
        out["xdm:options"] = [
            option_detail(c.offer, placement.id, shape, c.score) for c in prop.options
        ]
    elif prop.fallback is not None:
        out["xdm:fallback"] = option_detail(prop.fallback, placement.id, shape, None)
    if prop.trace is not None:
        out["nextoffer:explanation"] = prop.trace.as_dict()
    return out


def response_v1(result: DecideResult, fmt: ResponseFormat | None) -> dict[str, Any]:
    return {
        "xdm:propositionId": result.proposition_id,
        "xdm:propositions": [proposition_v1(p, fmt) for p in result.propositions],
        "ode:createDate": int(result.created.timestamp() * 1000),
    }


def response_v09(result: DecideResult) -> dict[str, Any]:
    out = []
    for prop in result.propositions:
        entry: dict[str, Any] = {
            "xdm:offerActivity": prop.decision.id,
            "xdm:scope": scope_token(prop.decision.id),
        }
        if prop.options:
            entry["xdm:offers"] = [c.offer.id for c in prop.options]
        elif prop.fallback is not None:
            entry["xdm:fallbackOffer"] = prop.fallback.id
        if prop.trace is not None:
            entry["nextoffer:explanation"] = prop.trace.as_dict()
        out.append(entry)
    return {
        "xdm:propositionID": result.proposition_id,
        "xdm:propositions": out,
        "ode:createDate": int(result.created.timestamp() * 1000),
    }


def respond(result: DecideResult, req: AnyRequest, version: str) -> dict[str, Any]:
    """The response body of schema `version` (a 0.9 request has no response format)."""
    if version == "1.0":
        return response_v1(
            result, req.response_format if isinstance(req, DecisionRequest) else None
        )
    return response_v09(result)
