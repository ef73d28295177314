"""Who is asking, and for which data: the tenant (org + sandbox) and the acting client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    """An IMS org and one of its sandboxes; data of one tenant is invisible to every other."""

    org: str
    sandbox: str


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, recorded as `createdBy`/`lastModifiedBy` and the client ids."""

    user: str
    client_id: str
