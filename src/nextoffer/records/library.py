"""The library's stored rows as services and stores exchange them (plain records, no I/O),
and the immutable snapshot of a sandbox's documents that list queries and catalogs read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Doc = dict[str, Any]
_EMPTY: Mapping[str, Doc] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Sandbox:
    pk: int
    org: str
    name: str
    sandbox_id: str


@dataclass(frozen=True, slots=True)
class ObjectRow:
    id: str
    kind: str
    etag: int
    revision: int
    created: str
    modified: str
    created_by_client_id: str
    last_modified_by_client_id: str
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a snapshot catch-up: a new version of an object, or its deletion (doc None)."""

    revision: int
    kind: str
    id: str
    doc: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class SandboxSnapshot:
    """Every document of a sandbox at one revision, by kind; never changed, only replaced."""

    sandbox_pk: int
    revision: int
    by_kind: Mapping[str, Mapping[str, Doc]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> Mapping[str, Doc]:
        return self.by_kind.get(kind, _EMPTY)

    def get(self, object_id: str) -> tuple[str, Doc] | None:
        for kind, docs in self.by_kind.items():
            doc = docs.get(object_id)
            if doc is not None:
                return kind, doc
        return None

    def apply(self, changes: list[Change], revision: int) -> SandboxSnapshot:
        """A new snapshot with `changes` applied; untouched kinds share their mappings."""
        top = max([revision, self.revision, *(c.revision for c in changes)])
        if not changes:
            return SandboxSnapshot(self.sandbox_pk, top, self.by_kind)
        merged: dict[str, Mapping[str, Doc]] = dict(self.by_kind)
        copied: dict[str, dict[str, Doc]] = {}

        def writable(kind: str) -> dict[str, Doc]:
            docs = copied.get(kind)
            if docs is None:
                docs = copied[kind] = dict(merged.get(kind, {}))
                merged[kind] = docs
            return docs

        for change in changes:
            # an id lives in one kind, but a deleted id may come back under another kind
            stale = [k for k, docs in merged.items() if k != change.kind and change.id in docs]
            for kind in stale:
                writable(kind).pop(change.id, None)
            docs = writable(change.kind)
            if change.doc is None:
                docs.pop(change.id, None)
            else:
                docs[change.id] = change.doc
        return SandboxSnapshot(self.sandbox_pk, top, merged)
