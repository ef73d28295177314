"""Creating and managing datastreams under a tenant's own headers and credentials."""

from __future__ import annotations

import re
from typing import Any

from nextoffer.errors import FieldError, InvalidInput, NotFound, PreconditionFailed
from nextoffer.library.service import LibraryService, etag_matches
from nextoffer.store import datastreams as repo
from nextoffer.store.datastreams import DatastreamResolver
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow

_ORIGIN = re.compile(r"^(\*|https?://[A-Za-z0-9.-]+(:\d{1,5})?)$")
_FIELDS = {"name", "description", "allowedOrigins"}


def _validate(body: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput.at("the body must be a JSON object", pointer="", code="invalid-body")
    errors = [FieldError("unknown field", pointer=f"/{k}") for k in body if k not in _FIELDS]
    name = body.get("name")
    bad_name = not isinstance(name, str) or not name.strip() or len(name) > 256
    if (not partial or "name" in body) and bad_name:
        errors.append(FieldError("name is a non-empty string of at most 256 characters", "/name"))
    if "description" in body and not isinstance(body["description"], str | None):
        errors.append(FieldError("description must be a string", "/description"))
    origins = body.get("allowedOrigins", [] if not partial else None)
    if origins is not None:
        if not isinstance(origins, list):
            errors.append(FieldError("allowedOrigins must be a list of origins", "/allowedOrigins"))
        else:
            for i, origin in enumerate(origins):
                if not isinstance(origin, str) or not _ORIGIN.match(origin):
                    errors.append(
                        FieldError(
                            "an origin is scheme://host[:port] (no path), or *",
                            f"/allowedOrigins/{i}",
                        )
                    )
    if errors:
        raise InvalidInput.many("the datastream is invalid", errors, code="invalid-body")
    return {k: v for k, v in body.items() if v is not None}


class DatastreamService:
    def __init__(self, library: LibraryService, resolver: DatastreamResolver) -> None:
        self.library = library
        self.resolver = resolver

    def create(self, tenant: Tenant, body: Any) -> dict[str, Any]:
        fields = _validate(body, partial=False)
        now = format_utc(utcnow())
        doc = {
            "id": repo.new_datastream_id(),
            "name": fields["name"],
            "allowedOrigins": fields.get("allowedOrigins", []),
            "created": now,
            "modified": now,
            "etag": 1,
        }
        if "description" in fields:
            doc["description"] = fields["description"]
        with self.library.db.write() as conn:
            sandbox = self.library.sandbox(conn, tenant, create=True)
            assert sandbox is not None
            repo.insert_datastream(conn, sandbox.pk, doc)
        return doc

    def list(self, tenant: Tenant) -> list[dict[str, Any]]:
        sandbox = self.library.find_sandbox(tenant)
        if sandbox is None:
            return []
        with self.library.db.read() as conn:
            return [d.doc for d in repo.list_for(conn, sandbox.pk)]

    def get(self, tenant: Tenant, datastream_id: str) -> dict[str, Any]:
        with self.library.db.read() as conn:
            found = repo.get(conn, datastream_id)
        if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
            raise NotFound.at(
                f"there is no datastream {datastream_id} in this sandbox", parameter="id"
            )
        return found.doc

    def update(
        self, tenant: Tenant, datastream_id: str, patch: Any, if_match: str | None
    ) -> dict[str, Any]:
        """A JSON merge patch (RFC 7396) of name, description and allowedOrigins."""
        changes = _validate(patch, partial=True)
        with self.library.db.write() as conn:
            found = repo.get(conn, datastream_id)
            if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
                raise NotFound.at(
                    f"there is no datastream {datastream_id} in this sandbox", parameter="id"
                )
            if if_match is not None and not etag_matches(if_match, found.etag):
                raise PreconditionFailed.at(
                    f"If-Match {if_match} does not match the current etag {found.etag}",
                    parameter="If-Match",
                )
            doc = dict(found.doc)
            for key in _FIELDS:
                if key in patch:
                    if patch[key] is None and key != "name":
                        doc.pop(key, None)
                    elif key in changes:
                        doc[key] = changes[key]
            doc.update(etag=found.etag + 1, modified=format_utc(utcnow()))
            repo.update_datastream(conn, doc, found.etag)
        self.resolver.forget(datastream_id)
        return doc

    def delete(self, tenant: Tenant, datastream_id: str) -> None:
        with self.library.db.write() as conn:
            found = repo.get(conn, datastream_id)
            if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
                raise NotFound.at(
                    f"there is no datastream {datastream_id} in this sandbox", parameter="id"
                )
            repo.delete_datastream(conn, datastream_id)
        self.resolver.forget(datastream_id)
