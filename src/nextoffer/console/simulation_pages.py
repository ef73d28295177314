"""The simulator on each decision, and the Profiles page: views over `POST /v1/simulations`.

Both forms are plain GET forms (the console loads their result as the page's fragment, so a
simulation is a link that can be shared or reloaded). Their fields become the very body the
API decodes (`SimulationRequest`), through the same service call, and the answer is the API's
JSON, so the page shows exactly what the API answers; a field the API would refuse is shown
beside its input instead of replacing the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from nextoffer.console.library_pages import named
from nextoffer.console.pages import Page, PageContext
from nextoffer.decisioning.simulation import Simulation
from nextoffer.errors import NextofferError, NotFound
from nextoffer.library.entities import DECISION
from nextoffer.profiles.documents import read_model
from nextoffer.wire.simulations import (
    SimulationRequest,
    identity_of,
    inline_of,
    simulation_response,
)

FIELDS = {
    "/profile": "profile",
    "/attributes": "inline",
    "/segmentMembership": "inline",
    "/events": "inline",
    "/contextData": "context",
    "/at": "at",
}
"""Which form input a pointer of the simulation request comes from."""

PROFILE_PARTS = ("attributes", "segmentMembership", "events")
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<member>[A-Za-z]*)[^`]*`)?$", re.S)
"""msgspec's `... - at `$.contextData[0]``: the message and the top-level member it is about."""


@dataclass
class SimulationForm:
    """The simulator's inputs as typed, and what is wrong with them, by input name."""

    profile: str = ""
    inline: str = ""
    context: str = ""
    at: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, query: Mapping[str, str]) -> SimulationForm:
        return cls(
            profile=query.get("profile", "").strip(),
            inline=query.get("inline", "").strip(),
            context=query.get("context", "").strip(),
            at=query.get("at", "").strip(),
        )

    @property
    def asked(self) -> bool:
        return bool(self.profile or self.inline)

    def _json(self, name: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            self.errors[name] = f"not valid JSON: {exc}"
            return None

    def body(self, decisions: list[str] | None) -> dict[str, Any]:
        """The API request the inputs stand for (errors noted, their parts left out)."""
        out: dict[str, Any] = {}
        if self.profile:
            out["profile"] = self.profile
        if self.inline:
            value = self._json("inline", self.inline)
            if isinstance(value, dict) and any(k in value for k in PROFILE_PARTS):
                out.update({k: value[k] for k in PROFILE_PARTS if k in value})
            elif value is not None:
                out["attributes"] = value  # bare attributes
        if self.context:
            value = self._json("context", self.context)
            if isinstance(value, dict):  # {"@type": data, ...}, the short form
                value = [{"@type": k, "xdm:data": v} for k, v in value.items()]
            if value is not None:
                out["contextData"] = value
        if self.at:  # a datetime-local input: minutes or seconds, in UTC
            suffix = {16: ":00Z", 19: "Z"}.get(len(self.at), "")
            out["at"] = self.at + suffix
        if decisions is not None:
            out["decisions"] = decisions
        return out

    def problem(self, exc: NextofferError) -> None:
        """Put the API's refusal beside the input it is about."""
        for err in exc.errors or ():
            pointer = err.pointer or ""
            name = next((n for p, n in FIELDS.items() if pointer.startswith(p)), "profile")
            self.errors.setdefault(name, err.message)
        if not exc.errors:
            self.errors.setdefault("profile", exc.detail)


def simulate(ctx: PageContext, form: SimulationForm, decisions: list[str] | None) -> dict | None:
    """The API's answer for the form, or None with the form's errors filled in."""
    body = form.body(decisions)
    if form.errors:
        return None
    try:
        req = msgspec.convert(body, SimulationRequest)
    except msgspec.ValidationError as exc:
        m = _AT.match(str(exc))
        member = m.group("member") if m else ""
        name = FIELDS.get(f"/{member}", "profile")
        form.errors[name] = m.group("message") if m else str(exc)
        return None
    try:
        sim = Simulation(
            tenant=ctx.tenant,
            identity=identity_of(req.profile) if req.profile is not None else None,
            inline=inline_of(req),
            context={c.type: c.data for c in req.contextData},
            at=req.at,
            decisions=req.decisions,
        )
        done = ctx.services.simulations.simulate(sim)
    except NextofferError as exc:
        form.problem(exc)
        return None
    return simulation_response(
        done.propositions,
        done.catalog,
        at=done.at,
        profile=req.profile,
        profile_id=done.profile_id,
        inline=sim.inline is not None,
        truncated=done.truncated,
    )


def load_simulate(ctx: PageContext) -> Mapping[str, Any]:
    """Simulate one decision (live or draft) for a profile, a context and a time."""
    decision = ctx.services.library.get(ctx.tenant, DECISION, ctx.path_params["object_id"])
    form = SimulationForm.of(ctx.query)
    answer = simulate(ctx, form, [decision["id"]]) if form.asked else None
    return {"decision": decision, "form": form, "answer": answer, "names": named(ctx)}


def load_profiles(ctx: PageContext) -> Mapping[str, Any]:
    """Look a profile up by identity: its attributes, audiences, recent events, and what it
    would get from every live decision now."""
    form = SimulationForm(profile=ctx.query.get("profile", "").strip())
    profile = answer = None
    if form.profile:
        try:
            key = identity_of(form.profile)
            profile = read_model(ctx.services.profiles.get(ctx.tenant, key))
        except NotFound:
            form.errors["profile"] = f"no profile has the identity {form.profile}"
        except NextofferError as exc:
            form.problem(exc)
        if profile is not None:
            answer = simulate(ctx, form, None)
    return {
        "form": form,
        "profile": profile,
        "attributes": json.dumps(profile["attributes"], indent=2, ensure_ascii=False)
        if profile
        else "",
        "answer": answer,
        "names": named(ctx),
    }


PAGES = [
    Page("/decisions/{object_id}/simulate", "simulate.html", load_simulate),
    Page("/profiles", "profiles.html", load_profiles),
]
