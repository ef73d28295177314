"""The Edge service: the interact and collect flows of the Web SDK and the Edge Server API.

An Edge request is checked whole before anything happens (every event parsed, every scope
token read, every notification matched to the propositions it names); then each event's
scopes are decided, and only then are the events kept and counted, so that a decision sees
its own event once, as the current one. A scope that cannot be decided does not fail the
request: it becomes a per-event warning, as the Edge Network answers.

Every flow is told who calls (`edge.callers`): the identities of an anonymous page's events
are screened first (unverified ones in protected namespaces dropped), so that deciding, keeping
and counting all see the same identities; a dry run (which answers what someone would get
without leaving a trace) needs API credentials, or the Edge would be an anonymous oracle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.decisioning.feedback import FeedbackService, Provenance
from nextoffer.edge.callers import EdgeCaller, screen
from nextoffer.engine import ScopeRequest
from nextoffer.errors import Unauthenticated
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import DecideCall
from nextoffer.wire.edge import EdgeEvent, EdgeRequest, dry_run, event_pointer, events_of, scopes_of
from nextoffer.wire.edge_responses import handle, interact_response, proposition, warning
from nextoffer.wire.events import ExperienceEvent, parse_event
from nextoffer.wire.scopes import DecisionScope


@dataclass(frozen=True, slots=True)
class _Planned:
    """One event of the request, read and checked, with the scopes it asks to decide."""

    index: int
    event: EdgeEvent
    parsed: ExperienceEvent
    """With only the identities the caller may use."""
    provenance: Provenance
    scopes: list[DecisionScope]


class EdgeService:
    def __init__(self, decisions: DecisionService, feedback: FeedbackService) -> None:
        self.decisions = decisions
        self.feedback = feedback

    def interact(
        self,
        tenant: Tenant,
        request: EdgeRequest,
        *,
        caller: EdgeCaller,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Decide each event's scopes and keep its event: the response body."""
        planned = self._plan(tenant, request, caller, answer=True)
        request_id = request_id or str(uuid.uuid4())
        handles: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        for plan in planned:
            if plan.scopes:
                self._decide(tenant, plan, request_id, handles, warnings)
        self._ingest(tenant, planned)
        return interact_response(request_id, handles, warnings)

    def collect(self, tenant: Tenant, request: EdgeRequest, *, caller: EdgeCaller) -> None:
        """Keep and count the events; nothing is decided."""
        self._ingest(tenant, self._plan(tenant, request, caller, answer=False))

    def _plan(
        self, tenant: Tenant, request: EdgeRequest, caller: EdgeCaller, *, answer: bool
    ) -> list[_Planned]:
        """Every event read, its identities screened and every notification checked, before
        anything is decided or written; any problem is one 4xx for the whole request."""
        events, where = events_of(request)
        now = self.decisions.clock()
        planned = []
        for index, event in enumerate(events):
            data_pointer = f"{where}/{index}/data" if where == "/events" else "/event/data"
            if dry_run(event) and not caller.trusted:
                raise Unauthenticated.at(
                    "a dry run through the Edge needs API credentials (Authorization: Bearer "
                    "and x-api-key of a client granted this datastream's sandbox)",
                    pointer=f"{data_pointer}/__adobe/ajo/dryRun",
                    code="credentials-required",
                )
            parsed = parse_event(event.xdm, event_pointer(where, index), now)
            parsed, provenance = screen(caller, event, parsed, data_pointer, now.timestamp())
            scopes = scopes_of(request, event, index, where) if answer else []
            planned.append(_Planned(index, event, parsed, provenance, scopes))
        kept = [p.parsed for p in planned if p.parsed.kept]
        if kept:
            self.feedback.check(tenant, kept)
        return planned

    def _decide(
        self,
        tenant: Tenant,
        plan: _Planned,
        request_id: str,
        handles: list[dict[str, Any]],
        warnings: list[dict[str, Any]],
    ) -> None:
        """Decide the event's decidable scopes; each other scope is a 422 warning."""
        requests = [ScopeRequest(s.activity_id, s.placement_id, s.item_count) for s in plan.scopes]
        screening = self.decisions.screen(tenant, requests)
        first_problem: dict[int, str] = {}
        for problem in screening.problems:
            first_problem.setdefault(problem.index, problem.message)
        kept: list[tuple[DecisionScope, ScopeRequest]] = []
        for i, (scope, scope_request) in enumerate(zip(plan.scopes, requests, strict=True)):
            if screening.catalog is None:
                detail = "this sandbox has no decisions"
            elif i in first_problem:
                detail = first_problem[i]
            else:
                kept.append((scope, scope_request))
                continue
            warnings.append(
                warning(
                    422, "bad-scope", "Scope not decided", f"{scope.token}: {detail}", plan.index
                )
            )
        if not kept:
            return
        assert screening.sandbox is not None and screening.catalog is not None
        call = DecideCall(
            tenant=tenant,
            scopes=[r for _, r in kept],
            identities=list(plan.parsed.identities),
            current_event=plan.parsed.xdm,
            dry_run=dry_run(plan.event),
            request_id=request_id,
        )
        result = self.decisions.decide(
            call, lambda i, f: "", screened=(screening.sandbox, screening.catalog)
        )
        payload = [
            proposition(p, scope_id, scope.token)
            for p, scope_id, (scope, _) in zip(
                result.propositions, result.scope_ids, kept, strict=True
            )
        ]
        handles.append(handle(payload, plan.index))

    def _ingest(self, tenant: Tenant, planned: list[_Planned]) -> None:
        """Keep and count the events (not those of a dry run), after deciding: a decision
        sees its own event once, as the current one."""
        wet = [p for p in planned if p.parsed.kept and not dry_run(p.event)]
        if wet:
            self.feedback.ingest(
                tenant, [p.parsed for p in wet], provenance=[p.provenance for p in wet]
            )
