"""A datastream as services and stores exchange it: how a browser, which sends no tenant
headers, reaches an org and sandbox, and which origins may call with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Datastream:
    id: str
    org: str
    sandbox: str
    sandbox_pk: int
    etag: int
    doc: dict[str, Any]
    """`{"id", "name", "allowedOrigins", "created", "modified", "etag"}`, and
    `identityVerification` when the datastream verifies identities (secrets included)."""

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(self.doc.get("allowedOrigins") or ())

    @property
    def identity_verification(self) -> dict[str, Any] | None:
        """`{"requiredNamespaces": [...], "keys": [...]}`, or None: no identity needs proof."""
        return self.doc.get("identityVerification")
