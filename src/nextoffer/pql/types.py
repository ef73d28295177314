"""Static types the checker infers.  A leaf module: it imports nothing from the package.

``ANY`` is the type of data whose shape the compiler cannot know (most profile and context
paths); it is compatible with everything, and the runtime treats a wrong-typed value as null.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Type:
    kind: str  # any | boolean | number | string | datetime | null | list | map | period
    elem: Type | None = None

    def __str__(self) -> str:
        if self.kind == "list" and self.elem is not None and self.elem.kind != "any":
            return f"list of {self.elem}"
        return {"datetime": "date-time", "period": "time period"}.get(self.kind, self.kind)


ANY = Type("any")
BOOL = Type("boolean")
NUM = Type("number")
STR = Type("string")
DT = Type("datetime")
NULL = Type("null")
MAP = Type("map")
PERIOD = Type("period")
LIST = Type("list", ANY)


def list_of(elem: Type) -> Type:
    return Type("list", elem)


def elem_of(t: Type) -> Type:
    """The item type of a collection; a scalar iterates as a one-item list."""
    if t.kind == "list":
        return t.elem or ANY
    if t.kind in ("any", "map"):
        return ANY
    return t


def compatible(a: Type, b: Type) -> bool:
    """Whether values of these types may meet in a comparison without a type error."""
    if a.kind in ("any", "null") or b.kind in ("any", "null"):
        return True
    if a.kind == "list" and b.kind == "list":
        return compatible(elem_of(a), elem_of(b))
    return a.kind == b.kind


def unify(a: Type, b: Type) -> Type:
    """The type of a value that is either ``a`` or ``b`` (the branches of ``if``)."""
    if a == b or b.kind == "null":
        return a
    if a.kind == "null":
        return b
    if a.kind == "list" and b.kind == "list":
        return list_of(unify(elem_of(a), elem_of(b)) if compatible(a, b) else ANY)
    return ANY
