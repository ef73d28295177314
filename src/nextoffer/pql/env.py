"""What a compiled rule is evaluated against: one request's profile, context, events and clock.

Built once per request (or per offer, for formulas) and never mutated by PQL.  ``now`` comes
from the caller's injected clock; PQL never reads the wall clock, so tests and batch runs
are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class Env:
    """Inputs of one evaluation.

    ``context`` is keyed by the context data's ``@type`` schema ref; ``events`` are experience
    events, most recent first; ``segments`` maps audience id to membership status; ``offer`` is
    the offer read model (formulas); ``aliases`` holds values for a formula's extra roots.
    """

    profile: Mapping[str, Any]
    _: KW_ONLY
    now: datetime
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    events: Sequence[Mapping[str, Any]] = ()
    segments: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    offer: Mapping[str, Any] | None = None
    aliases: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
