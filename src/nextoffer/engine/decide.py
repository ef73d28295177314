"""The decision engine: the best offers for each scope of a request, or the fallback.

Per scope (spec/decisioning.md §2, DESIGN.md §3): criteria groups in order of `rank.priority`;
in each, the collection's offers that are approved, in their dates, represented in the
placement, eligible for the criterion and by their own constraint, not capped and not proposed
by an earlier scope; scored by priority, formula or model; a later group never outranks an
earlier one; the top `itemCount`, or the fallback when nothing is left.

This is the fast path: it walks each criterion's candidates pre-sorted by priority and stops as
soon as the top `itemCount` are certain (ties at the boundary included), and evaluates each rule
once per request. `reference.py` is the straightforward version it is tested against, and
the one that explains.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from nextoffer.engine import reference
from nextoffer.engine.catalog import Catalog, Criterion, Offer, Ranking
from nextoffer.engine.duplicates import DuplicatePolicy
from nextoffer.engine.evaluation import Evaluation
from nextoffer.engine.proposition import Choice, Proposition
from nextoffer.engine.request import DecisionRequest, ScopeRequest
from nextoffer.timeutil import outside


def decide(catalog: Catalog, request: DecisionRequest) -> list[Proposition]:
    """Decide every scope of `request` (validated with `scope_problems` beforehand)."""
    if request.explain:
        return reference.decide(catalog, request)
    ev = Evaluation(catalog, request)
    policy = DuplicatePolicy(request, catalog)
    out = []
    for index, scope in enumerate(request.scopes):
        decision = catalog.decisions[scope.activity_id]
        placement = catalog.placements[scope.placement_id]
        count = scope.item_count or placement.item_count
        picked: list[Choice] = []
        if not outside(decision.start, decision.end, ev.now):
            picked = _rank(ev, policy, index, scope, count)[:count]
        policy.record(index, scope, [c.offer for c in picked])
        fallback = decision.fallback
        if picked or fallback is None or placement.id not in fallback.contents:
            fallback = None
        out.append(Proposition(index, decision, placement, count, picked, fallback))
    return out


def _order(offer: Offer) -> tuple[int, str]:
    return (-offer.priority, offer.id)


def _rank(
    ev: Evaluation, policy: DuplicatePolicy, index: int, scope: ScopeRequest, count: int
) -> list[Choice]:
    decision = ev.catalog.decisions[scope.activity_id]
    placement_id = scope.placement_id
    now = ev.now
    ranked: list[Choice] = []
    ranked_ids: set[str] = set()

    def eligible(offer: Offer) -> bool:
        # status and representation were settled when the catalog was built
        return not (
            offer.id in ranked_ids
            or outside(offer.start, offer.end, now)
            or policy.blocked_by(offer.id, scope.activity_id, placement_id) is not None
            or not ev.satisfied(offer.constraint)
            or ev.capped(offer, placement_id) is not None
        )

    for group in decision.groups(placement_id):
        need = count - len(ranked)
        if need <= 0:
            break
        criteria = [c for c in group if ev.satisfied(c.constraint)]
        if all(c.ranking.kind == "static" for c in criteria):
            chosen = _by_priority(ev, index, criteria, placement_id, need, eligible)
        else:
            chosen = _by_score(ev, index, criteria, placement_id, need, eligible)
        ranked.extend(chosen)
        ranked_ids.update(c.offer.id for c in chosen)
    return ranked


def _by_priority(
    ev: Evaluation,
    index: int,
    criteria: list[Criterion],
    placement_id: str,
    need: int,
    eligible: object,
) -> list[Choice]:
    """Walk candidates by priority; stop once `need` are found and no tie remains."""
    lists = [c.candidates_for(placement_id) for c in criteria]
    walk: Iterable[Offer] = lists[0] if len(lists) == 1 else heapq.merge(*lists, key=_order)
    found: list[Offer] = []
    seen: set[str] = set()
    bar: int | None = None
    for offer in walk:
        if bar is not None and offer.priority < bar:
            break
        if offer.id in seen:
            continue
        seen.add(offer.id)
        if not eligible(offer):  # type: ignore[operator]
            continue
        found.append(offer)
        if bar is None and len(found) >= need:
            bar = offer.priority
    key = ev.ties.key
    found.sort(key=lambda o: (-o.priority, key(index, o.id)))
    tied = Counter(o.priority for o in found)
    # every eligible offer at or above the boundary priority was found: ties are exact
    return [Choice(o, None, 1.0 / tied[o.priority]) for o in found]


def _by_score(
    ev: Evaluation,
    index: int,
    criteria: list[Criterion],
    placement_id: str,
    need: int,
    eligible: object,
) -> list[Choice]:
    """Score every eligible candidate; an offer met by two criteria keeps its higher score."""
    best: dict[str, tuple[Offer, float | None, bool, bool]] = {}
    verdicts: dict[str, bool] = {}
    model: Ranking | None = None
    for criterion in criteria:
        scored = criterion.ranking.kind != "static"
        by_model = criterion.ranking.kind == "model"
        if by_model and model is None:
            model = criterion.ranking  # one model per priority group (Adobe's rule)
        for offer in criterion.candidates_for(placement_id):
            ok = verdicts.get(offer.id)
            if ok is None:
                ok = verdicts[offer.id] = eligible(offer)  # type: ignore[operator]
            if not ok:
                continue
            score = ev.score(criterion.ranking, offer, index)
            previous = best.get(offer.id)
            if previous is None or _better(score, previous[1]):
                best[offer.id] = (offer, score, scored, by_model)
    ordered = _by_score_then_ties(ev, index, list(best.values()))
    if model is None:
        tied = Counter(s for _, s, _, _ in ordered)
        return [Choice(o, s if scored else None, 1.0 / tied[s]) for o, s, scored, _ in ordered]
    odds = _model_propensities(ev, model, ordered, need)
    served = (model.model_id or "", ev.scorer.version(model) if ev.scorer else None)
    return [
        Choice(o, s if scored else None, odds[i] if i < len(odds) else None, served)
        for i, (o, s, scored, _) in enumerate(ordered)
    ]


Scored = tuple[Offer, float | None, bool, bool]


def _by_score_then_ties(ev: Evaluation, index: int, items: list[Scored]) -> list[Scored]:
    """Best score first, equal scores in random tie order (the reference engine's order).

    Tie keys are hashes; only offers that share their score need one, so distinct scores
    (formulas, model draws) cost a plain sort."""
    items.sort(key=lambda t: (t[1] is None, -(t[1] or 0.0)))
    key = ev.ties.key
    start = 0
    while start < len(items):
        end = start + 1
        score = items[start][1]
        while end < len(items) and items[end][1] == score:
            end += 1
        if end - start > 1:
            items[start:end] = sorted(items[start:end], key=lambda t: key(index, t[0].id))
        start = end
    return items


def _model_propensities(
    ev: Evaluation,
    model: Ranking,
    ordered: list[tuple[Offer, float | None, bool, bool]],
    need: int,
) -> list[float]:
    """The slot probabilities of the first `need` candidates of a group a model ranks."""
    if not ordered:
        return []
    if ev.scorer is not None:
        entries = [(o, None if by_model else s) for o, s, _, by_model in ordered]
        return ev.scorer.propensities(model, entries, need)
    if all(by_model for *_, by_model in ordered):  # no scorer: uniformly random keys
        return [1.0 / len(ordered)] * min(need, len(ordered))
    return []


def _better(score: float | None, than: float | None) -> bool:
    if score is None:
        return False
    return than is None or score > than
