"""Moving a whole sandbox's library: export to one JSON document, import all or nothing.

The file holds read models grouped by kind, in an order where every object only references
objects before it. Import keeps ids and system fields, checks every reference against the file
and the target sandbox, and writes everything in one transaction at one revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nextoffer.errors import Conflict, FieldError, InvalidInput, RuleViolation
from nextoffer.library import documents
from nextoffer.library.entities import BY_KIND, ENTITIES, KIND_TITLES, EntitySpec
from nextoffer.library.integrity import Stored
from nextoffer.library.library_service import LibraryService
from nextoffer.library.references import find_references
from nextoffer.library.validation import integrity_errors, parse_document, referrer_errors
from nextoffer.records.library import ObjectRow
from nextoffer.tenants import Actor, Tenant
from nextoffer.timeutil import DateTimeFormatError, format_utc, normalize_rfc3339

FORMAT = "nextoffer-library"
VERSION = 1


def export_library(service: LibraryService, tenant: Tenant) -> dict[str, Any]:
    """Every object of the tenant's sandbox, grouped by kind in dependency order."""
    sandbox = service.find_sandbox(tenant)
    rows = service.store.all_objects(sandbox.pk) if sandbox else []
    by_kind: dict[str, list[dict[str, Any]]] = {spec.kind: [] for spec in ENTITIES}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.doc)
    return {
        "format": FORMAT,
        "version": VERSION,
        "org": tenant.org,
        "sandbox": tenant.sandbox,
        "exportedAt": format_utc(service.clock()),
        "objects": by_kind,
    }


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    replaced: int
    revision: int


class _ImportView:
    """The target sandbox as it will be after the import (file objects over stored ones)."""

    def __init__(
        self, stored: Mapping[str, Stored], pending: Mapping[str, Stored], limits: Any
    ) -> None:
        self.stored = stored
        self.pending = pending
        self.limits = limits

    def get(self, object_id: str) -> Stored | None:
        return self.pending.get(object_id) or self.stored.get(object_id)

    # per-object checks see counts before the import; the totals are checked once at the end
    def count(self, kinds: tuple[str, ...]) -> int:
        return 0

    def count_live_decisions(self) -> int:
        return 0

    def total(self, kinds: tuple[str, ...]) -> int:
        ids = set(self.stored) | set(self.pending)
        return sum(1 for i in ids if self.get(i).kind in kinds)  # type: ignore[union-attr]

    def live_decisions(self) -> int:
        ids = set(self.stored) | set(self.pending)
        return sum(
            1
            for i in ids
            if (s := self.get(i)) is not None
            and s.kind == "offer-activity"
            and s.doc.get("status") == "live"
        )


def _objects(data: Any) -> list[tuple[EntitySpec, str, Mapping[str, Any]]]:
    """(spec, pointer, object) for every object in the file, or a 400 naming what is wrong."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise InvalidInput.at(
            f'not a library export: expected an object with "format": "{FORMAT}"',
            pointer="/format",
            code="bad-import",
        )
    if data.get("version") != VERSION:
        raise InvalidInput.at(
            f"unsupported export version {data.get('version')!r} (this nextoffer reads {VERSION})",
            pointer="/version",
            code="bad-import",
        )
    groups = data.get("objects")
    if not isinstance(groups, Mapping):
        raise InvalidInput.at(
            "objects must map kinds to lists", pointer="/objects", code="bad-import"
        )
    out = []
    errors = []
    for kind, items in groups.items():
        spec = BY_KIND.get(kind)
        if spec is None:
            errors.append(
                FieldError(
                    f"unknown kind {kind!r}; kinds are {', '.join(BY_KIND)}",
                    pointer=f"/objects/{kind}",
                )
            )
            continue
        if not isinstance(items, list):
            errors.append(FieldError("must be a list of objects", pointer=f"/objects/{kind}"))
            continue
        for i, item in enumerate(items):
            where = f"/objects/{kind}/{i}"
            if (
                not isinstance(item, Mapping)
                or not isinstance(item.get("id"), str)
                or not item["id"]
            ):
                errors.append(FieldError("every object needs its id", pointer=f"{where}/id"))
                continue
            out.append((spec, where, item))
    if errors:
        raise InvalidInput.many("the library file is malformed", errors, code="bad-import")
    return out


def _system(item: Mapping[str, Any], field: str, default: str, where: str, errors: list) -> str:
    value = item.get(field, default)
    if field in ("created", "modified"):
        try:
            return normalize_rfc3339(str(value))
        except DateTimeFormatError as exc:
            errors.append(FieldError(str(exc), pointer=f"{where}/{field}"))
            return default
    return str(value)


def import_library(
    service: LibraryService,
    tenant: Tenant,
    actor: Actor,
    data: Any,
    *,
    replace: bool = False,
) -> ImportResult:
    """Import a library export into `tenant`'s sandbox; nothing is written unless all of it is."""
    entries = _objects(data)
    now = format_utc(service.clock())
    errors: list[FieldError] = []
    pending: dict[str, Stored] = {}
    prepared: list[tuple[EntitySpec, str, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for spec, where, item in entries:
        object_id = item["id"]
        if object_id in seen:
            errors.append(
                FieldError(f"{object_id} also appears at {seen[object_id]}", pointer=f"{where}/id")
            )
            continue
        seen[object_id] = where
        try:
            body = parse_document(spec, documents.body_of(item))
        except InvalidInput as exc:
            errors.extend(
                FieldError(e.message, pointer=where + (e.pointer or "")) for e in exc.errors
            )
            continue
        etag = item.get("etag", 1)
        doc = documents.read_model(
            spec,
            object_id=object_id,
            etag=etag if isinstance(etag, int) and not isinstance(etag, bool) and etag > 0 else 1,
            created=_system(item, "created", now, where, errors),
            modified=_system(item, "modified", now, where, errors),
            created_by=_system(item, "createdBy", actor.user, where, errors),
            modified_by=_system(item, "lastModifiedBy", actor.user, where, errors),
            body=body,
        )
        doc["created"] = documents.spell(spec, doc["created"])
        doc["modified"] = documents.spell(spec, doc["modified"])
        pending[object_id] = Stored(spec.kind, doc)
        prepared.append((spec, where, doc))
    if errors:
        raise InvalidInput.many(
            "the library file does not match the schemas", errors, code="bad-import"
        )

    with service.writing(tenant) as tx:
        revision = tx.revision
        stored = {row.id: row for row in tx.all_objects()}
        clashes = [i for i in pending if i in stored]
        if clashes and not replace:
            raise Conflict(
                f"{len(clashes)} object(s) already exist in {tenant.sandbox}: "
                f"{', '.join(sorted(clashes)[:10])}; import with replace to overwrite them",
                code="already-exists",
                errors=tuple(
                    FieldError("already exists", pointer=f"{seen[i]}/id") for i in clashes
                ),
            )
        view = _ImportView(
            {i: Stored(r.kind, r.doc) for i, r in stored.items()}, pending, service.limits
        )
        for spec, where, doc in prepared:
            old = stored.get(doc["id"])
            if old is not None and old.kind != spec.kind:
                errors.append(
                    FieldError(
                        f"{doc['id']} is a {KIND_TITLES[old.kind]} in the sandbox, not a "
                        f"{spec.title.lower()}",
                        pointer=f"{where}/id",
                    )
                )
                continue
            found = integrity_errors(spec, doc, view, None, creating=False)
            if old is not None and spec.contract_fields:
                referrers = tx.referrers(doc["id"])
                found += referrer_errors(spec, doc["id"], doc, old.doc, view, referrers)
            errors.extend(
                FieldError(e.message, pointer=where + (e.pointer or ""), code=e.code) for e in found
            )
        limits = service.limits
        for name, kinds in {s.count_limit for s in ENTITIES if s.count_limit}:
            if view.total(kinds) > getattr(limits, name):
                errors.append(
                    FieldError(f"the import exceeds the limit {name}", pointer="/objects")
                )
        if view.live_decisions() > limits.live_decisions_per_sandbox:
            errors.append(
                FieldError(
                    "the import exceeds the limit live_decisions_per_sandbox", pointer="/objects"
                )
            )
        if errors:
            raise RuleViolation.many("the library file breaks the library's rules", errors)
        created = replaced = 0
        for spec, _, doc in prepared:
            old = stored.get(doc["id"])
            if old is None:
                row = ObjectRow(
                    doc["id"],
                    spec.kind,
                    doc["etag"],
                    revision,
                    doc["created"],
                    doc["modified"],
                    actor.client_id,
                    actor.client_id,
                    doc,
                )
                tx.insert(row)
                created += 1
            else:
                doc = {
                    **doc,
                    "etag": old.etag + 1,
                    "created": old.doc["created"],
                    "createdBy": old.doc["createdBy"],
                }
                row = ObjectRow(
                    doc["id"],
                    spec.kind,
                    doc["etag"],
                    revision,
                    old.created,
                    doc["modified"],
                    old.created_by_client_id,
                    actor.client_id,
                    doc,
                )
                tx.update(row, expected_etag=old.etag)
                replaced += 1
            targets = [(p, t) for p, t, _ in find_references(spec.references, doc)]
            tx.replace_references(doc["id"], targets)
        return ImportResult(created, replaced, revision)
