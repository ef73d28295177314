"""The library's stored rows as services and stores exchange them (plain records, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
