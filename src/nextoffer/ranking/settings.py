"""A ranking strategy's settings, read once from its library document (defaults filled)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DISPLAY_EVENT = "decisioning.propositionDisplay"
INTERACT_EVENT = "decisioning.propositionInteract"


@dataclass(frozen=True, slots=True)
class StrategySettings:
    strategy_id: str
    type: str = "auto-optimization"
    enabled: bool = True
    window_days: int = 14
    new_impressions: int = 100
    new_conversions: int = 5
    exploration: float = 0.1
    impression_event: str = DISPLAY_EVENT
    conversion_event: str = INTERACT_EVENT

    @classmethod
    def from_doc(cls, strategy_id: str, doc: Mapping[str, Any] | None) -> StrategySettings:
        """Settings of a stored strategy; a missing document reads as an untrainable default."""
        if doc is None:
            return cls(strategy_id, enabled=False)
        training = doc.get("training") or {}
        metric = doc.get("optimizationMetric") or {}
        kind = doc.get("type", "auto-optimization")
        return cls(
            strategy_id=strategy_id,
            type=kind,
            enabled=doc.get("status", "enabled") == "enabled",
            window_days=int(
                training.get("windowDays") or (14 if kind == "auto-optimization" else 30)
            ),
            new_impressions=int(training.get("newOfferImpressions", 100)),
            new_conversions=int(training.get("newOfferConversions", 5)),
            exploration=float(training.get("explorationShare", 0.1)),
            impression_event=metric.get("impressionEventType", DISPLAY_EVENT),
            conversion_event=metric.get("conversionEventType", INTERACT_EVENT),
        )
