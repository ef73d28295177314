"""Tenant to sandbox primary key, from memory once seen (sandbox rows never change their ids)."""

from __future__ import annotations

from sqlalchemy import Connection

from nextoffer.store import library_repo as repo
from nextoffer.store.database import Database
from nextoffer.tenants import Tenant


class SandboxIds:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[tuple[str, str], int] = {}

    def find(self, tenant: Tenant, conn: Connection | None = None) -> int | None:
        """The sandbox's pk, or None when the tenant has never written anything."""
        key = (tenant.org, tenant.sandbox)
        pk = self._known.get(key)
        if pk is not None:
            return pk
        if conn is None:
            with self.db.read() as own:
                found = repo.find_sandbox(own, *key)
        else:
            found = repo.find_sandbox(conn, *key)
        if found is None:
            return None
        self._known[key] = found.pk
        return found.pk

    def ensure(self, conn: Connection, tenant: Tenant) -> int:
        """The sandbox's pk inside a write transaction, creating the sandbox on first use.

        A sandbox created here is not remembered: the transaction may still roll back.
        """
        pk = self.find(tenant, conn)
        if pk is not None:
            return pk
        return repo.ensure_sandbox(conn, tenant.org, tenant.sandbox).pk
