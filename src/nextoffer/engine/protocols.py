"""What the engine asks of the world, as small protocols (a leaf module: no imports above it).

The engine is pure: it gets the profile, counter reads and the model scorer through these, and
time and randomness as plain values, so the same code decides online, in batch and in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nextoffer.engine.catalog import Offer, Ranking
    from nextoffer.pql import Env


class Subject(Protocol):
    """The profile a decision is for (a stored profile, an inline one, or nobody: empty)."""

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def segments(self) -> Mapping[str, str]: ...

    @property
    def events(self) -> Sequence[Mapping[str, Any]]: ...


class CappingView(Protocol):
    """Counter reads for one decision: which capping rule, if any, exhausts an offer."""

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        """The index of a capping rule of `offer` that is exhausted for this profile, or None.

        A view may also offer `describe(offer, placement_id, index) -> dict` (the counter's
        `count`, `windowStart`, `windowEnd`); explanations show it when it does.
        """
        ...


class ModelScorer(Protocol):
    """The ranking models of one request (`orderEvaluationType: rankingStrategy`)."""

    def score(self, ranking: Ranking, offer: Offer, env: Env) -> float:
        """The offer's score under the criterion's model (a random draw for Thompson sampling,
        fixed for the request)."""
        ...

    def propensities(
        self, ranking: Ranking, entries: Sequence[tuple[Offer, float | None]], count: int
    ) -> list[float]:
        """For the first `count` ranked `entries` of a criteria group (each with its fixed
        score, None where the model scored it), the probability of its slot."""
        ...

    def describe(self, ranking: Ranking, offer: Offer, score: float | None) -> dict[str, Any]:
        """What an explanation shows of the model for one candidate."""
        ...

    def version(self, ranking: Ranking) -> int | None:
        """The version of the model that served, None when untrained."""
        ...
