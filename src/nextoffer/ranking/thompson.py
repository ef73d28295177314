"""Serving auto-optimization models: one scorer per request, Thompson sampling, propensities.

Per request and model the policy is a mixture: with probability `explorationShare` the
candidates are ranked uniformly at random (so new offers keep a share and can graduate),
otherwise each candidate scores one draw from its Beta posterior (Thompson sampling). An
untrained model, one with fewer than two graduated offers, or a disabled strategy ranks
uniformly at random. Every random number is derived from the request's salt and the offer id,
never from evaluation order, so the fast and the reference engine rank alike.

Propensities (the probability the policy had of putting an offer in its slot, given the
candidates) are exact for uniform ranking (1/n) and, for the Thompson part, a Monte-Carlo
estimate: `DRAWS` joint draws of every candidate's posterior, counting how often the offer
lands in its slot; the estimate is mixed with the exploration share's exact uniform part, so
it is never below `explorationShare / n` and its standard error is at most 0.5/sqrt(DRAWS).
The estimate depends on the model version and the candidate set only, so each version keeps
the tables of the candidate sets it has seen (`AutoModel.memo`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nextoffer.ranking.auto_model import AutoModel
from nextoffer.ranking.settings import StrategySettings

if TYPE_CHECKING:
    from nextoffer.engine.catalog import Offer, Ranking
    from nextoffer.pql import Env

DRAWS = 256
"""Monte-Carlo draws per propensity estimate (bounded cost: DRAWS x candidates Beta draws)."""

RANDOM, EXPLORE, EXPLOIT, DISABLED, UNTRAINED = (
    "random",
    "explore",
    "exploit",
    "disabled",
    "untrained",
)


class ThompsonScorer:
    """The `ModelScorer` of one request: scores, explanations and propensities."""

    __slots__ = ("_draws", "_modes", "_salt", "_settings", "models")

    def __init__(
        self,
        models: Mapping[str, AutoModel] | Callable[[], Mapping[str, AutoModel]],
        seed: int | None = None,
    ) -> None:
        """`models`, or a function giving them on first use: a decision that ranks by no model
        never reads the model store."""
        self.models = models
        self._salt = (
            secrets.token_bytes(16) if seed is None else seed.to_bytes(16, "big", signed=True)
        )
        self._settings: dict[str, StrategySettings] = {}
        self._modes: dict[str, str] = {}
        self._draws: dict[str, dict[str, float]] = {}

    # -- random numbers, independent of evaluation order -------------------------------------

    def _uniform(self, *parts: str) -> float:
        digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8, key=self._salt)
        return (int.from_bytes(digest.digest(), "big") >> 11) / float(1 << 53)

    def _generator(self, *parts: str) -> np.random.Generator:
        digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=16, key=self._salt)
        return np.random.default_rng(int.from_bytes(digest.digest(), "big"))

    # -- the policy ---------------------------------------------------------------------------

    def settings(self, ranking: Ranking) -> StrategySettings:
        model_id = ranking.model_id or ""
        found = self._settings.get(model_id)
        if found is None:
            found = self._settings[model_id] = StrategySettings.from_doc(model_id, ranking.strategy)
        return found

    def model(self, ranking: Ranking) -> AutoModel | None:
        models = self.models
        if callable(models):
            models = self.models = models()
        return models.get(ranking.model_id or "")

    def mode(self, ranking: Ranking) -> str:
        """How this request ranks by the model: disabled, untrained, random, explore, exploit."""
        model_id = ranking.model_id or ""
        mode = self._modes.get(model_id)
        if mode is None:
            settings, model = self.settings(ranking), self.model(ranking)
            if not settings.enabled:
                mode = DISABLED
            elif model is None:
                mode = UNTRAINED
            elif not _memo_value(model, ("active", settings), lambda: model.active(settings)):
                mode = RANDOM
            elif self._uniform(model_id, "explore") < settings.exploration:
                mode = EXPLORE
            else:
                mode = EXPLOIT
            self._modes[model_id] = mode
        return mode

    def score(self, ranking: Ranking, offer: Offer, env: Env) -> float:
        model_id = ranking.model_id or ""
        if self.mode(ranking) != EXPLOIT:
            return self._uniform(model_id, offer.id)
        draws = self._draws.get(model_id)
        if draws is None:
            draws = self._draws[model_id] = self._sample_arms(ranking)
        sampled = draws.get(offer.id)
        # an offer the model has no data for has the prior Beta(1, 1): a uniform draw
        return self._uniform(model_id, offer.id) if sampled is None else sampled

    def _sample_arms(self, ranking: Ranking) -> dict[str, float]:
        model = self.model(ranking)
        assert model is not None
        ids, alpha, beta = _posteriors(model)
        if not ids:
            return {}
        values = self._generator(ranking.model_id or "", "sample").beta(alpha, beta)
        return dict(zip(ids, values.tolist(), strict=True))

    def describe(self, ranking: Ranking, offer: Offer, score: float | None) -> dict[str, Any]:
        """What an explanation shows of the model for one candidate."""
        model, mode = self.model(ranking), self.mode(ranking)
        out: dict[str, Any] = {
            "id": ranking.model_id,
            "version": model.version if model else None,
            "mode": mode,
        }
        if model is not None:
            arm = model.arm(offer.id)
            out.update(
                impressions=arm.impressions,
                conversions=arm.conversions,
                posteriorMean=arm.mean,
                posterior={"alpha": arm.alpha, "beta": arm.beta},
            )
        if mode == EXPLOIT:
            out["sampled"] = score
        else:
            out["randomKey"] = score
        return out

    def version(self, ranking: Ranking) -> int | None:
        model = self.model(ranking)
        return model.version if model else None

    # -- propensities -------------------------------------------------------------------------

    def propensities(
        self, ranking: Ranking, entries: Sequence[tuple[Offer, float | None]], count: int
    ) -> list[float]:
        """For the first `count` of `entries` (the group's ranked candidates, each with its
        fixed score, or None when the model scores it): the probability of its slot."""
        n = len(entries)
        count = min(count, n)
        if count <= 0:
            return []
        mode = self.mode(ranking)
        model = self.model(ranking)
        key = (count, tuple(sorted((offer.id, fixed) for offer, fixed in entries)))
        if all(fixed is None for _, fixed in entries):
            uniform = [1.0 / n] * count
        else:
            table = _memo(model, ("uniform", key), lambda: self._table(ranking, key, False))
            uniform = [table[entries[s][0].id][s] for s in range(count)]
        if mode in (DISABLED, UNTRAINED, RANDOM):
            return uniform
        table = _memo(model, ("thompson", key), lambda: self._table(ranking, key, True))
        share = self.settings(ranking).exploration
        return [
            share * uniform[s] + (1.0 - share) * table[entries[s][0].id][s] for s in range(count)
        ]

    def _table(
        self,
        ranking: Ranking,
        key: tuple[int, tuple[tuple[str, float | None], ...]],
        thompson: bool,
    ) -> dict[str, list[float]]:
        """Offer id -> the estimated probability of each of the first slots, for one candidate
        set: `DRAWS` joint draws (posterior draws, or uniform keys, for model-scored candidates;
        the fixed score for the others), ranked. The generator is seeded by the model version
        and the candidate set, not by the request, so the estimate is a function of them."""
        count, candidates = key
        model = self.model(ranking)
        version = model.version if model else 0
        digest = hashlib.blake2b(repr((ranking.model_id, version, key)).encode(), digest_size=16)
        rng = np.random.default_rng(int.from_bytes(digest.digest(), "big"))
        n = len(candidates)
        if thompson and model is not None:
            arms = [model.arm(offer_id) for offer_id, _ in candidates]
            alpha = np.fromiter((a.alpha for a in arms), float, n)[:, None]
            beta = np.fromiter((a.beta for a in arms), float, n)[:, None]
            samples = rng.beta(alpha, beta, (n, DRAWS))  # every candidate, every draw, at once
        else:
            samples = rng.random((n, DRAWS))
        for row, (_, fixed) in enumerate(candidates):
            if fixed is not None:
                samples[row] = fixed
        # ties among fixed scores break at random, as the engine breaks them
        order = np.lexsort((rng.random((n, DRAWS)), -samples), axis=0)[:count]
        table = {offer_id: [0.0] * count for offer_id, _ in candidates}
        for slot in range(count):
            hits = np.bincount(order[slot], minlength=n)
            for row, (offer_id, _) in enumerate(candidates):
                # never 0: the offer was served, so its probability was not (floor 1/DRAWS)
                table[offer_id][slot] = max(int(hits[row]), 1) / DRAWS
        return table


def _posteriors(model: AutoModel) -> tuple[list[str], Any, Any]:
    """The model's offer ids and Beta parameters as arrays, built once per version."""

    def build() -> tuple[list[str], Any, Any]:
        ids = list(model.arms)
        alpha = np.fromiter((model.arms[o].alpha for o in ids), float, len(ids))
        beta = np.fromiter((model.arms[o].beta for o in ids), float, len(ids))
        return ids, alpha, beta

    return _memo_value(model, "posteriors", build)


def _memo_value(model: AutoModel, key: Any, compute: Callable[[], Any]) -> Any:
    memo = model.memo
    if key not in memo:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = compute()
    return memo[key]


MEMO_SIZE = 1024
"""Candidate sets whose propensity tables a model version keeps."""


def _memo(
    model: AutoModel | None, key: Any, compute: Callable[[], dict[str, list[float]]]
) -> dict[str, list[float]]:
    """A model version's table for one candidate set, computed once: the estimate is a pure
    function of the version and the set, and the same sets come back request after request."""
    if model is None:
        return compute()
    return _memo_value(model, key, compute)
