"""Creating and managing datastreams under a tenant's own headers and credentials.

A datastream's `identityVerification` (`edge.verification`) holds secrets: every document
this service returns shows it through `public_settings`, without them.
"""

from __future__ import annotations

import re
import uuid
from contextlib import AbstractContextManager
from typing import Any, Protocol

from nextoffer.edge.verification import public_settings, settings_errors
from nextoffer.errors import FieldError, InvalidInput, NotFound, PreconditionFailed
from nextoffer.library.library_service import LibraryService
from nextoffer.records.datastreams import Datastream
from nextoffer.records.etags import ETagCondition
from nextoffer.records.library import Sandbox
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow

_ORIGIN = re.compile(r"\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
"""An origin as a browser sends it, matched whole (`$` would let a final newline in)."""
_FIELDS = {"name", "description", "allowedOrigins", "identityVerification"}
_VERIFICATION = "identityVerification"


class DatastreamWrite(Protocol):
    """One write transaction over datastreams."""

    def ensure_sandbox(self, org: str, name: str) -> Sandbox:
        """The sandbox, created on first use (in this transaction)."""
        ...

    def get(self, datastream_id: str) -> Datastream | None: ...

    def insert(self, sandbox_pk: int, doc: dict[str, Any]) -> None: ...

    def update(self, doc: dict[str, Any], expected_etag: int) -> bool: ...

    def delete(self, datastream_id: str) -> None: ...


class DatastreamStore(Protocol):
    """The port `DatastreamService` writes through (the store implements it)."""

    def writing(self) -> AbstractContextManager[DatastreamWrite]: ...

    def get(self, datastream_id: str) -> Datastream | None: ...

    def list_for(self, sandbox_pk: int) -> list[Datastream]: ...

    def forget(self, datastream_id: str) -> None:
        """This process changed or deleted the datastream: stop serving a cached copy."""
        ...


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    """The datastream as clients see it: verification secrets left out."""
    if _VERIFICATION not in doc:
        return doc
    return {**doc, _VERIFICATION: public_settings(doc[_VERIFICATION])}


def _validate(
    body: Any, *, partial: bool, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput.at("the body must be a JSON object", pointer="", code="invalid-body")
    errors = [FieldError("unknown field", pointer=f"/{k}") for k in body if k not in _FIELDS]
    name = body.get("name")
    bad_name = not isinstance(name, str) or not name.strip() or len(name) > 256
    if (not partial or "name" in body) and bad_name:
        errors.append(FieldError("name is a non-empty string of at most 256 characters", "/name"))
    if "description" in body and not isinstance(body["description"], str | None):
        errors.append(FieldError("description must be a string", "/description"))
    if "description" in body and body["description"] is None and not partial:
        errors.append(
            FieldError("description must be a string (leave it out for none)", "/description")
        )
    origins = body.get("allowedOrigins", [] if not partial else None)
    if "allowedOrigins" in body and origins is None:
        errors.append(
            FieldError("allowedOrigins is a list of origins; [] allows none", "/allowedOrigins")
        )
    elif origins is not None:
        if not isinstance(origins, list):
            errors.append(FieldError("allowedOrigins must be a list of origins", "/allowedOrigins"))
        else:
            for i, origin in enumerate(origins):
                if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                    errors.append(
                        FieldError(
                            "an origin is scheme://host[:port] (no path), or *",
                            f"/allowedOrigins/{i}",
                        )
                    )
    out = {k: v for k, v in body.items() if v is not None}
    if _VERIFICATION in body and body[_VERIFICATION] is None and not partial:
        errors.append(
            FieldError(
                "identityVerification is an object (leave it out for none)", f"/{_VERIFICATION}"
            )
        )
    if body.get(_VERIFICATION) is not None:
        settings, problems = settings_errors(
            body[_VERIFICATION], (previous or {}).get(_VERIFICATION), f"/{_VERIFICATION}"
        )
        errors += problems
        out[_VERIFICATION] = settings
    if errors:
        raise InvalidInput.many("the datastream is invalid", errors, code="invalid-body")
    return out


class DatastreamService:
    def __init__(self, library: LibraryService, store: DatastreamStore) -> None:
        self.library = library
        self.store = store

    def create(self, tenant: Tenant, body: Any) -> dict[str, Any]:
        fields = _validate(body, partial=False)
        now = format_utc(utcnow())
        doc = {
            "id": str(uuid.uuid4()),
            "name": fields["name"],
            "allowedOrigins": fields.get("allowedOrigins", []),
            "created": now,
            "modified": now,
            "etag": 1,
        }
        for key in ("description", _VERIFICATION):
            if key in fields:
                doc[key] = fields[key]
        with self.store.writing() as tx:
            sandbox = tx.ensure_sandbox(tenant.org, tenant.sandbox)
            tx.insert(sandbox.pk, doc)
        return shown(doc)

    def list(self, tenant: Tenant) -> list[dict[str, Any]]:
        sandbox = self.library.find_sandbox(tenant)
        if sandbox is None:
            return []
        return [shown(d.doc) for d in self.store.list_for(sandbox.pk)]

    def get(self, tenant: Tenant, datastream_id: str) -> dict[str, Any]:
        found = self.store.get(datastream_id)
        if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
            raise NotFound.at(
                f"there is no datastream {datastream_id} in this sandbox", parameter="id"
            )
        return shown(found.doc)

    def update(
        self,
        tenant: Tenant,
        datastream_id: str,
        patch: Any,
        expected_etag: ETagCondition | None,
    ) -> dict[str, Any]:
        """A JSON merge patch (RFC 7396) of name, description, allowedOrigins and
        identityVerification (which a patch replaces whole; null removes it)."""
        with self.store.writing() as tx:
            found = tx.get(datastream_id)
            if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
                raise NotFound.at(
                    f"there is no datastream {datastream_id} in this sandbox", parameter="id"
                )
            if expected_etag is not None and not expected_etag.matches(found.etag):
                raise PreconditionFailed.at(
                    f"If-Match {expected_etag.header} does not match the current etag {found.etag}",
                    parameter="If-Match",
                )
            changes = _validate(patch, partial=True, previous=found.doc)
            doc = dict(found.doc)
            for key in _FIELDS:
                if key in patch:
                    if patch[key] is None and key != "name":
                        doc.pop(key, None)
                    elif key in changes:
                        doc[key] = changes[key]
            doc.update(etag=found.etag + 1, modified=format_utc(utcnow()))
            tx.update(doc, found.etag)
        self.store.forget(datastream_id)
        return shown(doc)

    def delete(self, tenant: Tenant, datastream_id: str) -> None:
        with self.store.writing() as tx:
            found = tx.get(datastream_id)
            if found is None or (found.org, found.sandbox) != (tenant.org, tenant.sandbox):
                raise NotFound.at(
                    f"there is no datastream {datastream_id} in this sandbox", parameter="id"
                )
            tx.delete(datastream_id)
        self.store.forget(datastream_id)
