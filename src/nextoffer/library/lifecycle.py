"""Status lifecycles: which status changes are legal for offers and decisions (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nextoffer.errors import FieldError


@dataclass(frozen=True, slots=True)
class Lifecycle:
    field: str
    initial: str
    transitions: Mapping[str, frozenset[str]]

    def problem(self, old: str | None, new: str | None) -> FieldError | None:
        """The error when `old -> new` is not a legal change, else None."""
        old = old or self.initial
        new = new or self.initial
        if old == new or new in self.transitions.get(old, frozenset()):
            return None
        allowed = sorted(self.transitions.get(old, frozenset()))
        hint = f"allowed from {old}: {', '.join(allowed)}" if allowed else f"{old} is final"
        return FieldError(
            f"status cannot change from {old} to {new} ({hint})",
            pointer=f"/{self.field}",
            code="illegal-status-change",
        )


OFFER_LIFECYCLE = Lifecycle(
    field="status",
    initial="draft",
    transitions={
        "draft": frozenset({"approved", "archived"}),
        "approved": frozenset({"draft", "archived"}),
        "archived": frozenset(),
    },
)

DECISION_LIFECYCLE = Lifecycle(
    field="status",
    initial="draft",
    transitions={
        "draft": frozenset({"live", "archived"}),
        "live": frozenset({"complete", "archived"}),
        "complete": frozenset({"archived"}),
        "archived": frozenset(),
    },
)
