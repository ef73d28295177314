"""Check a rule's condition or a ranking formula's expression without saving it.

The library's own reading of the text: a rule condition compiles as a boolean rule, a formula
as a numeric formula whose roots are `offer`, the profile and its `definedOn` aliases -- the same
compile a save runs (`integrity.check_rule`, `check_formula`), so a text this calls valid saves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from nextoffer.errors import InvalidInput
from nextoffer.library.integrity import formula_aliases
from nextoffer.pql import Diagnosis, diagnose

CheckKind = Literal["rule", "formula"]


def check_pql(text: str, kind: CheckKind, defined_on: Mapping[str, Any] | None = None) -> Diagnosis:
    """What is wrong with `text` as a `kind`, or what it reads; `defined_on` names a formula's
    aliases as the formula's own `definedOn` does (a rule has none)."""
    aliases: tuple[str, ...] = ()
    if defined_on:
        if kind != "formula":
            raise InvalidInput.at("only a ranking formula has aliases", pointer="/definedOn")
        aliases = formula_aliases({"definedOn": defined_on})
    try:
        return diagnose(text, kind, aliases)
    except ValueError as exc:  # an alias PQL cannot use as a root
        raise InvalidInput.at(str(exc), pointer="/definedOn") from None


__all__ = ["CheckKind", "check_pql"]
