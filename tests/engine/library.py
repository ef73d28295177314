"""Build libraries as plain documents for engine tests (the Catalog needs no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WEB = "https://ns.adobe.com/xdm/channel-types/web"


@dataclass
class Library:
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, kind: str, doc: dict[str, Any]) -> str:
        doc.setdefault("etag", 1)
        self.docs.setdefault(kind, {})[doc["id"]] = doc
        return doc["id"]

    def placement(self, pid: str, item_count: int = 1, allow_duplicates: bool = False) -> str:
        return self.add(
            "offer-placement",
            {
                "id": pid,
                "name": pid,
                "channel": WEB,
                "componentType": "html",
                "itemCount": item_count,
                "allowDuplicatePlacements": allow_duplicates,
            },
        )

    def offer(
        self,
        oid: str,
        priority: int = 0,
        placements: tuple[str, ...] = ("p1",),
        *,
        status: str = "approved",
        start: str | None = None,
        end: str | None = None,
        rule: str | None = None,
        segments: tuple[str, ...] = (),
        all_segments: bool = False,
        tags: tuple[str, ...] = (),
        kind: str = "personalized-offer",
        **extra: Any,
    ) -> str:
        selection: dict[str, Any] = {"profileConstraintType": "none"}
        if start:
            selection["startDate"] = start
        if end:
            selection["endDate"] = end
        if rule:
            selection.update(profileConstraintType="eligibilityRule", eligibilityRule=rule)
        if segments:
            selection.update(
                profileConstraintType="allSegments" if all_segments else "anySegments",
                segmentIdentities=[{"_id": s, "namespace": {"code": "ups"}} for s in segments],
            )
        return self.add(
            kind,
            {
                "id": oid,
                "name": oid,
                "status": status,
                "rank": {"priority": priority},
                "selectionConstraint": selection,
                "tags": list(tags),
                "representations": [
                    {
                        "channel": WEB,
                        "placement": p,
                        "components": [{"type": "html", "format": "text/html", "content": oid}],
                    }
                    for p in placements
                ],
                **extra,
            },
        )

    def fallback(self, fid: str = "fb", placements: tuple[str, ...] = ("p1",)) -> str:
        return self.offer(fid, 0, placements, kind="fallback-offer")

    def rule(self, rid: str, pql: str) -> str:
        return self.add(
            "eligibility-rule",
            {
                "id": rid,
                "name": rid,
                "condition": {"type": "PQL", "format": "pql/text", "value": pql},
            },
        )

    def formula(self, fid: str, pql: str, defined_on: dict | None = None) -> str:
        doc: dict[str, Any] = {"id": fid, "name": fid, "expression": {"value": pql}}
        if defined_on:
            doc["definedOn"] = defined_on
        return self.add("ranking-function", doc)

    def collection(self, cid: str, ids: list[str], filter_type: str = "offers") -> str:
        return self.add(
            "offer-filter", {"id": cid, "name": cid, "filterType": filter_type, "ids": ids}
        )

    def decision(
        self,
        did: str,
        criteria: list[dict[str, Any]],
        fallback: str | None = "fb",
        *,
        status: str = "live",
        start: str | None = None,
        end: str | None = None,
    ) -> str:
        doc: dict[str, Any] = {"id": did, "name": did, "status": status, "criteria": criteria}
        if fallback:
            doc["fallback"] = fallback
        if start:
            doc["startDate"] = start
        if end:
            doc["endDate"] = end
        return self.add("offer-activity", doc)


def criterion(
    collection: str,
    placements: tuple[str, ...] | None = ("p1",),
    priority: int = 0,
    *,
    formula: str | None = None,
    model: str | None = None,
    rule: str | None = None,
    segments: tuple[str, ...] = (),
) -> dict[str, Any]:
    c: dict[str, Any] = {"optionSelection": {"filter": collection}, "rank": {"priority": priority}}
    if placements is not None:
        c["placements"] = list(placements)
    if formula:
        c["rank"]["order"] = {"orderEvaluationType": "scoringFunction", "function": formula}
    if model:
        c["rank"]["order"] = {"orderEvaluationType": "rankingStrategy", "rankingStrategy": model}
    if rule:
        c["profileConstraint"] = {
            "profileConstraintType": "eligibilityRule",
            "eligibilityRule": rule,
        }
    if segments:
        c["profileConstraint"] = {
            "profileConstraintType": "anySegments",
            "segmentIdentities": [{"_id": s} for s in segments],
        }
    return c
