"""The decision engine (pure): a compiled Catalog of a sandbox's library, and `decide`.

catalog = build_catalog(docs_by_kind, revision=7)
propositions = decide(catalog, DecisionRequest(scopes, now=clock(), subject=profile))
"""

from nextoffer.engine.catalog import Catalog, Decision, Offer, Placement, build_catalog
from nextoffer.engine.decide import decide
from nextoffer.engine.proposition import Choice, Proposition
from nextoffer.engine.protocols import CappingView, ModelScorer, Subject
from nextoffer.engine.request import NOBODY, DecisionRequest, ScopeRequest
from nextoffer.engine.scope_checks import ScopeProblem, scope_problems
from nextoffer.engine.trace import CandidateTrace, Reason, ScopeTrace

__all__ = [
    "NOBODY",
    "CandidateTrace",
    "CappingView",
    "Catalog",
    "Choice",
    "Decision",
    "DecisionRequest",
    "ModelScorer",
    "Offer",
    "Placement",
    "Proposition",
    "Reason",
    "ScopeProblem",
    "ScopeRequest",
    "ScopeTrace",
    "Subject",
    "build_catalog",
    "decide",
    "scope_problems",
]
