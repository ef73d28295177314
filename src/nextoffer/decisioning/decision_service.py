"""The decision service: from a tenant's call to propositions and decision events.

Every way in (Decisioning API, Edge, CLI, batch) translates its request to a `DecideCall`
(`wire/`) and comes here; scopes are checked in one place (`screen`) whichever way came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from nextoffer.capping.keys import capping_subject
from nextoffer.decisioning.capping_gate import CappingGate
from nextoffer.decisioning.catalogs import CatalogCache
from nextoffer.engine import (
    NOBODY,
    Catalog,
    DecisionRequest,
    Proposition,
    ScopeProblem,
    ScopeRequest,
    Subject,
    decide,
    scope_problems,
)
from nextoffer.engine.protocols import CappingView, ModelScorer
from nextoffer.errors import FieldError, RuleViolation
from nextoffer.ids import time_ordered_uuid
from nextoffer.library.library_service import LibraryService
from nextoffer.ranking import AutoModel, ThompsonScorer
from nextoffer.records.library import Sandbox
from nextoffer.telemetry import NO_TELEMETRY, Span, Telemetry
from nextoffer.tenants import Tenant
from nextoffer.timeutil import utcnow
from nextoffer.wire.calls import DecideCall, DecideResult, PointerFor


class ProfileFinder(Protocol):
    def find(
        self, tenant: Tenant, identities: Iterable[tuple[str, str]], *, with_events: bool = False
    ) -> Any: ...


class ModelSource(Protocol):
    def get(self, sandbox_pk: int) -> Mapping[str, AutoModel]:
        """The latest trained model of each ranking strategy of the sandbox, by strategy id."""
        ...


class EventRecorder(Protocol):
    def record(self, tenant: Tenant, events: Sequence[Any]) -> None: ...


_EMPTY = Catalog(0, {}, {}, {}, {})
"""What a tenant without a sandbox (or a catalog) can decide: nothing."""


@dataclass(frozen=True, slots=True)
class Screening:
    """The scope check of a call (`DecisionService.screen`)."""

    sandbox: Sandbox | None
    catalog: Catalog | None
    """None: the tenant has no sandbox yet, so no scope can be decided."""
    problems: list[ScopeProblem]
    """What stops each scope that cannot be decided, in scope order (`index` names it)."""


@dataclass(frozen=True, slots=True)
class WithEvent:
    """A subject whose experience events start with the event of the request itself."""

    subject: Subject
    event: Mapping[str, Any]

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self.subject.attributes

    @property
    def segments(self) -> Mapping[str, str]:
        return self.subject.segments

    @property
    def events(self) -> Sequence[Mapping[str, Any]]:
        return (self.event, *self.subject.events)


class DecisionService:
    def __init__(
        self,
        library: LibraryService,
        catalogs: CatalogCache,
        *,
        profiles: ProfileFinder | None = None,
        events: EventRecorder | None = None,
        scorer: ModelScorer | None = None,
        models: ModelSource | None = None,
        capping: CappingGate | None = None,
        clock: Callable[[], datetime] = utcnow,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.library = library
        self.catalogs = catalogs
        self.profiles = profiles
        self.events = events
        self.scorer = scorer
        """Ranks every model criterion when set (tests); else the sandbox's trained models."""
        self.models = models
        self.capping = capping
        """Caps every decision when set (counting unless dry run or explanation)."""
        self.clock = clock
        self.telemetry = telemetry

    def catalog(self, tenant: Tenant) -> Catalog | None:
        sandbox = self.library.find_sandbox(tenant)
        return self.catalogs.get(sandbox.pk) if sandbox else None

    def screen(self, tenant: Tenant, scopes: Sequence[ScopeRequest]) -> Screening:
        """The one scope check, for every way in: the tenant's sandbox and current catalog, and
        what stops each scope that cannot be decided."""
        sandbox = self.library.find_sandbox(tenant)
        catalog = self.catalogs.get(sandbox.pk) if sandbox else None
        problems = scope_problems(catalog or _EMPTY, scopes)
        return Screening(sandbox, catalog, problems)

    def decidable(
        self, tenant: Tenant, scopes: Sequence[ScopeRequest], pointer: PointerFor
    ) -> tuple[Sandbox, Catalog]:
        """The tenant's sandbox and current catalog, once every scope is known to be decidable;
        else one 422 naming each scope that is not."""
        screening = self.screen(tenant, scopes)
        if screening.problems:
            raise RuleViolation.many(
                "some decision scopes cannot be decided",
                [
                    FieldError(p.message, pointer=pointer(p.index, p.field), code=p.code)
                    for p in screening.problems
                ],
            )
        sandbox, catalog = screening.sandbox, screening.catalog
        assert sandbox is not None and catalog is not None
        return sandbox, catalog

    def decide(
        self,
        call: DecideCall,
        pointer: PointerFor,
        capping: CappingView | None = None,
        *,
        screened: tuple[Sandbox, Catalog] | None = None,
    ) -> DecideResult:
        """Decide every scope of the call; unknown or unusable scopes are one 422.

        `screened` is the sandbox and catalog a `screen` of exactly these scopes found without
        problems: the check is not made twice. With a capping gate and no `capping` view given,
        caps apply and, unless the call is a dry run or an explanation, the chosen offers'
        decision counts are reserved.
        """
        sandbox, catalog = screened or self.decidable(call.tenant, call.scopes, pointer)
        subject, profile_id = self._subject(call, catalog)
        with self.telemetry.span("nextoffer.decide") as span:
            result = self._decide(call, sandbox, catalog, subject, profile_id, capping)
            if self.telemetry.tracing:
                _describe(span, result, catalog)
        if self.telemetry.metrics:
            for prop in result.propositions:
                self.telemetry.decided(outcome_of(prop), ranking_of(prop))
        if not call.dry_run and not call.explain and self.events is not None:
            with self.telemetry.span("nextoffer.decision_events.record") as span:
                span.set_attribute("nextoffer.events", len(result.propositions))
                self.events.record(call.tenant, self._events(call, result))
            result.recorded = True
        return result

    def _decide(
        self,
        call: DecideCall,
        sandbox: Sandbox,
        catalog: Catalog,
        subject: Subject,
        profile_id: str | None,
        capping: CappingView | None,
    ) -> DecideResult:
        now = call.at if call.at is not None else self.clock()
        request = DecisionRequest(
            scopes=call.scopes,
            now=now,
            subject=subject,
            context=call.context,
            allow_duplicates=call.allow_duplicates,
            seed=call.seed,
            capping=capping,
            scorer=self.scorer or self._scorer(sandbox, call.seed),
            explain=call.explain,
        )
        if capping is None and self.capping is not None:

            def run(view: CappingView | None) -> list[Proposition]:
                request.capping = view
                return decide(catalog, request)

            propositions = self.capping.decide(
                sandbox.sandbox_id,
                catalog,
                request,
                run,
                subject=capping_subject(profile_id, call.identities),
                count=not (call.dry_run or call.explain),
            )
        else:
            propositions = decide(catalog, request)
        return DecideResult(
            proposition_id=time_ordered_uuid(),
            created=now,
            propositions=propositions,
            scope_ids=[time_ordered_uuid() for _ in propositions],
            catalog=catalog,
            profile_id=profile_id,
            recorded=False,
        )

    def _scorer(self, sandbox: Sandbox, seed: int | None) -> ModelScorer:
        """The request's ranking models: the sandbox's latest trained versions, read only if
        a criterion ranks by a model (the cache reads the store once a second per sandbox)."""
        cache = self.models
        if cache is None:
            return ThompsonScorer({}, seed)
        return ThompsonScorer(lambda: cache.get(sandbox.pk), seed)

    def _subject(self, call: DecideCall, catalog: Catalog) -> tuple[Subject, str | None]:
        subject, profile_id = self._profile(call, catalog)
        if call.current_event is not None:
            subject = WithEvent(subject, call.current_event)
        return subject, profile_id

    def _profile(self, call: DecideCall, catalog: Catalog) -> tuple[Subject, str | None]:
        if call.inline is not None:
            return call.inline, None
        if self.profiles is None or not call.identities:
            return NOBODY, None
        with self.telemetry.span("nextoffer.profile.lookup") as span:
            found = self.profiles.find(
                call.tenant, call.identities, with_events=catalog.reads_events
            )
            span.set_attribute("nextoffer.profile.found", found is not None)
        if found is None:
            return NOBODY, None  # an identity nobody knows decides as an empty profile
        return found, found.profile_id

    def _events(self, call: DecideCall, result: DecideResult) -> list[Any]:
        from nextoffer.records.decision_events import DecisionEvent

        identity = call.identities[0] if call.identities else None
        out = []
        for prop, scope_id in zip(result.propositions, result.scope_ids, strict=True):
            out.append(
                DecisionEvent(
                    proposition_id=scope_id,
                    timestamp=result.created,
                    profile_id=result.profile_id,
                    identity=identity,
                    activity_id=prop.decision.id,
                    placement_id=prop.placement.id,
                    offers=[
                        (choice.offer.id, rank, choice.score, choice.propensity, choice.model)
                        for rank, choice in enumerate(prop.options, start=1)
                    ],
                    fallback_id=prop.fallback.id if prop.fallback else None,
                    request_id=call.request_id or result.proposition_id,
                )
            )
        return out


def outcome_of(prop: Proposition) -> str:
    """What a decided scope answered (`telemetry.OUTCOMES`)."""
    if prop.options:
        return "offer"
    return "fallback" if prop.fallback is not None else "empty"


def ranking_of(prop: Proposition) -> str:
    """How the decision ranks offers for the placement: `static` unless a criterion ranks
    by a formula or a model (`telemetry.RANKINGS`)."""
    for criterion in prop.decision.criteria:
        kind = criterion.ranking.kind
        if kind != "static" and criterion.applies_to(prop.placement.id):
            return kind
    return "static"


_REASONS = {"offer": "targeting_match", "fallback": "default", "empty": "default"}
"""OpenTelemetry's feature-flag evaluation reasons for the outcomes."""


def _describe(span: Span, result: DecideResult, catalog: Catalog) -> None:
    """The decision as OpenTelemetry feature-flag evaluations: one event per scope (the
    placement is the flag, the first offer the variant); on the span too for one scope."""
    for prop in result.propositions:
        outcome = outcome_of(prop)
        chosen = prop.options[0].offer.id if prop.options else None
        if chosen is None and prop.fallback is not None:
            chosen = prop.fallback.id
        attributes: dict[str, Any] = {
            "feature_flag.key": prop.placement.id,
            "feature_flag.set.id": prop.decision.id,
            "feature_flag.provider.name": "nextoffer",
            "feature_flag.version": str(catalog.revision),
            "feature_flag.result.reason": _REASONS[outcome],
            "nextoffer.outcome": outcome,
            "nextoffer.ranking": ranking_of(prop),
            "nextoffer.offers": [c.offer.id for c in prop.options],
        }
        if chosen is not None:
            attributes["feature_flag.result.variant"] = chosen
        if result.profile_id is not None:
            attributes["feature_flag.context.id"] = result.profile_id
        span.add_event("feature_flag.evaluation", attributes)
        if len(result.propositions) == 1:
            for key, value in attributes.items():
                span.set_attribute(key, value)
