"""References between library objects, declared as path patterns over a document."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Reference:
    """Where a document names other objects, and which kinds it may name.

    `path` is a `/`-separated pattern in which `*` stands for every item of an array, e.g.
    `representations/*/placement`. `when` restricts the reference to documents it accepts
    (a collection's `ids` are tags or offers depending on its `filterType`).
    """

    path: str
    targets: tuple[str, ...]
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def find(self, doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """Yield `(json pointer, referenced id)` for every string the pattern reaches."""
        if self.when is not None and not self.when(doc):
            return
        yield from _walk(doc, self.path.split("/"), "")


def _walk(node: Any, parts: list[str], pointer: str) -> Iterator[tuple[str, str]]:
    if not parts:
        if isinstance(node, str):
            yield pointer, node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _walk(item, rest, f"{pointer}/{i}")
    elif isinstance(node, Mapping) and head in node:
        yield from _walk(node[head], rest, f"{pointer}/{escape_pointer_token(head)}")


def find_references(
    references: tuple[Reference, ...], doc: Mapping[str, Any]
) -> list[tuple[str, str, tuple[str, ...]]]:
    """All `(pointer, target id, accepted kinds)` a document holds."""
    return [(ptr, target, ref.targets) for ref in references for ptr, target in ref.find(doc)]
