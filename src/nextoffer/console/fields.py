"""Form fields as data: one description per entity drives its list, detail and form pages.

A field names its place in the document by a `/`-separated key relative to its parent
(`selectionConstraint/startDate`); the form input is named by the full JSON pointer, so the
API's problem+json pointers find the input they are about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WIDGETS = frozenset(
    {
        "text",  # one line of text
        "textarea",  # several lines (descriptions, PQL)
        "select",  # one of `options`
        "ref",  # one library object of `ref_kinds`
        "refs",  # several library objects of `ref_kinds`
        "datetime",  # a UTC instant
        "integer",
        "boolean",  # unset, true or false
        "list",  # strings, one per line
        "group",  # a repeated object made of `fields`
        "fixed",  # a constant the form always sends (`fixed`), not shown
    }
)


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    """Where the value sits, relative to the parent object (`/`-separated)."""
    label: str
    """Adobe's name for the field, as its UI labels it."""
    widget: str = "text"
    options: tuple[str, ...] = ()
    ref_kinds: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""
    fields: tuple[Field, ...] = ()
    """A group's item fields."""
    item_label: str = ""
    """A group's item, as its Add / Remove buttons name it."""
    min_items: int = 0
    """How many empty items a new form starts a group with."""
    fixed: str = ""
    """A `fixed` field's value."""

    def __post_init__(self) -> None:
        if self.widget not in WIDGETS:
            raise ValueError(f"unknown widget {self.widget!r} for {self.key}")

    @property
    def top(self) -> str:
        """The top-level document member this field writes (what an edit patches)."""
        return self.key.split("/", 1)[0]

    def value_in(self, doc: Mapping[str, Any] | None) -> Any:
        """The field's current value in `doc` (None when absent)."""
        node: Any = doc
        for part in self.key.split("/"):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a list page."""

    key: str
    label: str

    def value_in(self, doc: Mapping[str, Any]) -> Any:
        return Field(self.key, self.label).value_in(doc)


def pointer_id(pointer: str) -> str:
    """An HTML id for the input of a JSON pointer (`/a/0/b` -> `f-a-0-b`)."""
    return "f" + pointer.replace("~1", "_").replace("~0", "_").replace("/", "-").replace(":", "_")


_INSTANT = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|\+00:00)")


def shown(value: Any) -> Any:
    """A value as a page shows it: a UTC instant (all the library stores) to the minute."""
    if isinstance(value, str) and (m := _INSTANT.fullmatch(value)):
        return f"{m[1]} {m[2]} UTC"
    return value


def input_value(widget: str, value: Any) -> str:
    """How a stored value is written into its input."""
    if value is None:
        return ""
    if widget == "datetime" and isinstance(value, str):
        return value[:16]  # datetime-local takes YYYY-MM-DDTHH:MM (the form says UTC)
    if widget == "boolean":
        return "true" if value is True else "false" if value is False else ""
    if widget == "list" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    extra: Mapping[str, str] = field(default_factory=dict)
    """`data-*` attributes (a placement's channel and content type, for console.js)."""
