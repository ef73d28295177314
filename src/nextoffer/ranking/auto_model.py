"""The auto-optimization model: per offer, the impressions and conversions of the window.

Each offer's conversion rate has the posterior Beta(1 + c, 1 + i - c) (a uniform prior); the
model serves by Thompson sampling once two offers are no longer *new* (Adobe's rule, with the
thresholds of the strategy), and at random before. The state is plain counts, so training is
a sum and the stored form is a small JSON document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nextoffer.ranking.settings import StrategySettings


@dataclass(frozen=True, slots=True)
class Arm:
    impressions: int
    conversions: int

    @property
    def alpha(self) -> float:
        return 1.0 + self.conversions

    @property
    def beta(self) -> float:
        return 1.0 + max(self.impressions - self.conversions, 0)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def rate(self) -> float | None:
        return self.conversions / self.impressions if self.impressions else None


NO_DATA = Arm(0, 0)


@dataclass(frozen=True, slots=True)
class AutoModel:
    """One trained version of a strategy's model."""

    strategy_id: str
    version: int
    trained_at: str
    window_start: str
    window_end: str
    arms: Mapping[str, Arm] = field(default_factory=dict)
    events: int = 0
    """Decision events the training read."""
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Propensity tables of this version per candidate set (`thompson.py`), computed once."""

    def arm(self, offer_id: str) -> Arm:
        return self.arms.get(offer_id, NO_DATA)

    def graduated(self, offer_id: str, settings: StrategySettings) -> bool:
        """Whether an offer is no longer *new*: enough impressions or conversions."""
        arm = self.arm(offer_id)
        return (
            arm.impressions >= settings.new_impressions
            or arm.conversions >= settings.new_conversions
        )

    def active(self, settings: StrategySettings) -> bool:
        """Adobe's rule: the model ranks once two offers are no longer new; random before."""
        return sum(1 for o in self.arms if self.graduated(o, settings)) >= 2

    def as_state(self) -> dict[str, Any]:
        """The stored form (JSON)."""
        return {
            "version": self.version,
            "trainedAt": self.trained_at,
            "windowStart": self.window_start,
            "windowEnd": self.window_end,
            "events": self.events,
            "arms": {o: [a.impressions, a.conversions] for o, a in sorted(self.arms.items())},
        }

    @classmethod
    def from_state(cls, strategy_id: str, state: Mapping[str, Any]) -> AutoModel:
        return cls(
            strategy_id=strategy_id,
            version=int(state["version"]),
            trained_at=str(state["trainedAt"]),
            window_start=str(state["windowStart"]),
            window_end=str(state["windowEnd"]),
            arms={o: Arm(int(i), int(c)) for o, (i, c) in state["arms"].items()},
            events=int(state["events"]),
        )


def train_auto(
    strategy_id: str,
    version: int,
    trained_at: str,
    window: tuple[str, str],
    impressions: Mapping[str, int],
    conversions: Mapping[str, int],
    events: int = 0,
) -> AutoModel:
    """A model from the window's counts; conversions never exceed impressions in a posterior
    (a click without a logged display still counts it as one impression)."""
    arms = {}
    for offer_id in sorted(set(impressions) | set(conversions)):
        c = int(conversions.get(offer_id, 0))
        i = max(int(impressions.get(offer_id, 0)), c)
        arms[offer_id] = Arm(i, c)
    return AutoModel(strategy_id, version, trained_at, window[0], window[1], arms, events)
