"""Per-request evaluation shared by every scope: eligibility, with each rule evaluated once,
and scores from priority, ranking formulas or a model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from nextoffer.engine.catalog import Catalog, Constraint, Offer, Ranking
from nextoffer.engine.request import DecisionRequest
from nextoffer.engine.ties import TieBreaker
from nextoffer.pql import Env
from nextoffer.vocabulary import MEMBER_STATUSES

_VERSION = re.compile(r";version=[^;]*$")
_XDM_URI = "https://ns.adobe.com/xdm/"


def _schema_key(ref: str) -> str:
    """`https://ns.adobe.com/xdm/context/foo;version=1` and `_xdm.context.foo` alike -> one key."""
    ref = _VERSION.sub("", ref)
    if ref.startswith(_XDM_URI):
        ref = "_xdm." + ref[len(_XDM_URI) :].replace("/", ".")
    return ref


def context_value(context: Mapping[str, Any], key: str) -> Any:
    """The context data a formula alias names, matching schema refs loosely (versions, URIs)."""
    if key in context:
        return context[key]
    wanted = _schema_key(key)
    for ref, value in context.items():
        if _schema_key(ref) == wanted:
            return value
    return None


def jsonable(value: Any) -> Any:
    """A PQL value in a form JSON can carry (for explanations)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value[:20]]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in list(value.items())[:20]}
    return str(value)


class Evaluation:
    """The evaluation state of one request: the rule environment and memoised rule results."""

    __slots__ = (
        "_formula_envs",
        "_rules",
        "capping",
        "catalog",
        "env",
        "now",
        "request",
        "scorer",
        "segments",
        "ties",
    )

    def __init__(self, catalog: Catalog, request: DecisionRequest) -> None:
        subject = request.subject
        self.catalog = catalog
        self.request = request
        self.now = request.now.timestamp()
        self.segments = subject.segments
        self.env = Env(
            subject.attributes,
            now=request.now,
            context=request.context,
            events=subject.events,
            segments=subject.segments,
        )
        self.capping = request.capping
        self.scorer = request.scorer
        self.ties: TieBreaker = request.tie_breaker()
        self._rules: dict[str, bool] = {}
        self._formula_envs: dict[str, Env] = {}

    def satisfied(self, constraint: Constraint) -> bool:
        kind = constraint.kind
        if kind == "none":
            return True
        if kind == "eligibilityRule":
            rule_id = constraint.rule_id or ""
            hit = self._rules.get(rule_id)
            if hit is None:
                rule = constraint.rule
                hit = self._rules[rule_id] = rule.test(self.env) if rule is not None else False
            return hit
        segments = self.segments
        if kind == "anySegments":
            return any(segments.get(s) in MEMBER_STATUSES for s in constraint.segments)
        return all(segments.get(s) in MEMBER_STATUSES for s in constraint.segments)

    def why_not(self, constraint: Constraint) -> tuple[str, dict[str, Any] | None]:
        """Why a constraint is not satisfied, in words, and as fields: for a rule the smallest
        sub-expression that failed, where it is and its value; for audiences the ones missing."""
        if constraint.kind == "eligibilityRule":
            if constraint.rule is None:
                return constraint.rule_error or "the rule does not compile", {
                    "id": constraint.rule_id
                }
            explanation = constraint.rule.explain(self.env)
            rule: dict[str, Any] = {"id": constraint.rule_id, "value": jsonable(explanation.value)}
            failed = explanation.failed
            if failed is not None:
                rule.update(
                    failed=failed.source,
                    line=failed.line,
                    column=failed.column,
                    endLine=failed.end_line,
                    endColumn=failed.end_column,
                    failedValue=jsonable(failed.value),
                )
                if failed.operands:
                    rule["operands"] = [
                        {"source": o.source, "value": jsonable(o.value)} for o in failed.operands
                    ]
            where = f": {failed.source} is {jsonable(failed.value)!r}" if failed else ""
            if failed and failed.operands:
                where += (
                    " ("
                    + ", ".join(f"{o.source} is {jsonable(o.value)!r}" for o in failed.operands)
                    + ")"
                )
            return f"rule {constraint.rule_id} is not satisfied{where}", rule
        missing = [s for s in constraint.segments if self.segments.get(s) not in MEMBER_STATUSES]
        audiences = {"audiences": list(constraint.segments), "missing": missing}
        if constraint.kind == "anySegments":
            return f"not in any of the audiences {', '.join(constraint.segments)}", audiences
        return f"not in the audience(s) {', '.join(missing)}", audiences

    def capped(self, offer: Offer, placement_id: str) -> int | None:
        if self.capping is None or not offer.has_caps:
            return None
        return self.capping.capped(offer, placement_id)

    def _formula_env(self, ranking: Ranking) -> Env:
        env = self._formula_envs.get(ranking.formula_id or "")
        if env is None:
            base = self.env
            aliases = {a: context_value(base.context, key) for a, key in ranking.aliases.items()}
            env = Env(
                base.profile,
                now=base.now,
                context=base.context,
                events=base.events,
                segments=base.segments,
                aliases=aliases,
            )
            self._formula_envs[ranking.formula_id or ""] = env
        return env

    def score(self, ranking: Ranking, offer: Offer, scope_index: int) -> float | None:
        """The offer's score under a criterion's ranking; None when a formula gives no number."""
        if ranking.kind == "static":
            return float(offer.priority)
        if ranking.kind == "formula":
            if ranking.formula is None:
                return None
            env = self._formula_env(ranking)
            env.offer = offer.doc  # one environment per formula and request, the offer swapped in
            value = ranking.formula(env)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                return None
            return float(value)
        if self.scorer is not None:
            return float(self.scorer.score(ranking, offer, self.env))
        # no model trained or registered yet: serve at random, as Adobe does before training
        return self.ties.key(scope_index, "model\0" + offer.id) / 2.0**64
