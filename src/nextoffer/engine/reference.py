"""The reference engine: the decision process written out straightforwardly.

No pre-filtered candidate lists, no laziness: every member of every collection of every
criterion group is examined in the documented order, and the first check it fails is recorded.
It is the executable specification the fast engine is property-tested against, the baseline of
the engine benchmark, and what explains decisions (`"nextoffer:explain": true`).
"""

from __future__ import annotations

from nextoffer.engine.catalog import Catalog, Criterion, Decision, Offer, Ranking
from nextoffer.engine.duplicates import DuplicatePolicy
from nextoffer.engine.evaluation import Evaluation
from nextoffer.engine.proposition import Choice, Proposition
from nextoffer.engine.request import DecisionRequest, ScopeRequest
from nextoffer.engine.trace import CandidateTrace, Reason, ScopeTrace, capping_explanation
from nextoffer.timeutil import outside


def decide(catalog: Catalog, request: DecisionRequest) -> list[Proposition]:
    ev = Evaluation(catalog, request)
    policy = DuplicatePolicy(request, catalog)
    out = []
    for index, scope in enumerate(request.scopes):
        decision = catalog.decisions[scope.activity_id]
        placement = catalog.placements[scope.placement_id]
        count = scope.item_count or placement.item_count
        trace = ScopeTrace(scope.activity_id, scope.placement_id, count)
        if outside(decision.start, decision.end, ev.now):
            picked: list[Choice] = []
            trace.note = f"decision {decision.id} is outside its start and end dates"
        else:
            picked = _scope(ev, policy, index, scope, count, decision, trace)
        policy.record(index, scope, [c.offer for c in picked])
        fallback = None
        if not picked:
            fallback = decision.fallback
            if fallback is None:
                trace.outcome = "empty"
                trace.note = trace.note or f"decision {decision.id} has no fallback offer"
            elif placement.id not in fallback.contents:
                trace.outcome = "empty"
                trace.note = (
                    f"no offer qualified and fallback {fallback.id} has no representation "
                    f"for placement {placement.id}"
                )
                fallback = None
            else:
                trace.outcome = "fallback"
        out.append(
            Proposition(
                index,
                decision,
                placement,
                count,
                picked,
                fallback,
                trace if request.explain else None,
            )
        )
    return out


def _groups(decision: Decision, placement_id: str) -> list[list[Criterion]]:
    applicable = [
        c for c in decision.criteria if c.placements is None or placement_id in c.placements
    ]
    priorities = sorted({c.priority for c in applicable}, reverse=True)
    return [[c for c in applicable if c.priority == p] for p in priorities]


def _scope(
    ev: Evaluation,
    policy: DuplicatePolicy,
    index: int,
    scope: ScopeRequest,
    count: int,
    decision: Decision,
    trace: ScopeTrace,
) -> list[Choice]:
    placement_id = scope.placement_id
    ranked: list[tuple[Offer, float | None, bool, int, int]] = []
    ranked_ids: set[str] = set()
    traces: dict[str, CandidateTrace] = {}
    rankings: dict[str, Ranking] = {}

    def drop(
        offer: Offer, c: Criterion, g: int, reason: Reason, detail: str = "", rule=None
    ) -> None:
        traces.setdefault(offer.id, CandidateTrace(offer.id, c.index, g, reason, detail, rule=rule))

    for g, group in enumerate(_groups(decision, placement_id)):
        if len(ranked) >= count:
            for c in group:
                for offer in c.members:
                    if offer.id not in ranked_ids:
                        drop(offer, c, g, Reason.NOT_REACHED, "earlier criteria filled the scope")
            continue
        best: dict[str, tuple[Offer, float | None, bool, int]] = {}
        for c in group:
            criterion_ok = ev.satisfied(c.constraint)
            for offer in c.members:
                if offer.id in ranked_ids:
                    drop(offer, c, g, Reason.RANKED_EARLIER, "ranked by an earlier criteria group")
                    continue
                failure = _first_failure(ev, policy, scope, offer, criterion_ok, c)
                if failure is not None:
                    reason, detail, rule = failure
                    drop(offer, c, g, reason, detail, rule)
                    continue
                score = ev.score(c.ranking, offer, index)
                scored = c.ranking.kind != "static"
                previous = best.get(offer.id)
                if previous is None or (
                    score is not None and (previous[1] is None or score > previous[1])
                ):
                    best[offer.id] = (offer, score, scored, c.index)
                    rankings[offer.id] = c.ranking
        key = ev.ties.key
        ordered = sorted(
            best.values(), key=lambda t: (t[1] is None, -(t[1] or 0.0), key(index, t[0].id))
        )
        for offer, score, scored, criterion in ordered:
            ranked.append((offer, score, scored, criterion, g))
            ranked_ids.add(offer.id)
            traces.pop(offer.id, None)  # eligible through one criterion beats failing another
    picked = ranked[:count]
    for rank, (offer, score, scored, criterion, g) in enumerate(ranked, start=1):
        reason = Reason.SELECTED if rank <= count else Reason.OUTRANKED
        detail = "" if rank <= count else f"rank {rank}, the scope takes {count}"
        if score is None and scored:
            detail = (detail + "; " if detail else "") + "the formula gave no number"
        traces[offer.id] = CandidateTrace(offer.id, criterion, g, reason, detail, score, rank)
        ranking = rankings.get(offer.id)
        if ranking is not None and ranking.kind == "model" and ev.scorer is not None:
            traces[offer.id].model = ev.scorer.describe(ranking, offer, score)
    trace.candidates = list(traces.values())
    trace.candidates.sort(
        key=lambda t: (t.rank is None, t.rank or 0, t.group, t.criterion, t.offer_id)
    )
    return [Choice(o, s if scored else None) for o, s, scored, _, _ in picked]


def _first_failure(
    ev: Evaluation,
    policy: DuplicatePolicy,
    scope: ScopeRequest,
    offer: Offer,
    criterion_ok: bool,
    criterion: Criterion,
) -> tuple[Reason, str, dict | None] | None:
    """The first check the offer fails, in the documented order, or None."""
    placement_id = scope.placement_id
    if offer.status != "approved":
        return Reason.NOT_APPROVED, f"status is {offer.status}", None
    if outside(offer.start, offer.end, ev.now):
        start, end = (
            offer.doc.get("selectionConstraint", {}).get("startDate"),
            offer.doc.get("selectionConstraint", {}).get("endDate"),
        )
        return Reason.OUTSIDE_DATES, f"valid from {start} to {end}", None
    if placement_id not in offer.contents:
        return Reason.NO_REPRESENTATION, f"no representation for placement {placement_id}", None
    if not criterion_ok:
        detail, rule = ev.why_not(criterion.constraint)
        return Reason.CRITERION_INELIGIBLE, detail, rule
    if not ev.satisfied(offer.constraint):
        detail, rule = ev.why_not(offer.constraint)
        return Reason.INELIGIBLE, detail, rule
    capped = ev.capped(offer, placement_id)
    if capped is not None:
        describe = getattr(ev.capping, "describe", None)
        state = describe(offer, placement_id, capped) if describe is not None else None
        detail, rule = capping_explanation(offer.capping[capped], capped, state)
        return Reason.CAPPED, detail, rule
    earlier = policy.blocked_by(offer.id, scope.activity_id, placement_id)
    if earlier is not None:
        return Reason.DUPLICATE, f"already proposed by scope {earlier}", None
    return None
