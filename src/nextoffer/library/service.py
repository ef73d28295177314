"""The generic resource layer: create, read, list, patch, replace and delete any entity.

Every write is one transaction that first takes the sandbox's next revision (serialising writers
of a sandbox), then validates the document against its schema and the library's integrity rules,
then stores it with its references. A failure anywhere rolls everything back: nothing is ever
half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from nextoffer.caching import BuildCache
from nextoffer.config import Limits
from nextoffer.errors import Conflict, FieldError, NotFound, PreconditionFailed, RuleViolation
from nextoffer.ids import new_id
from nextoffer.library import documents, patching
from nextoffer.library.entities import KIND_TITLES, EntitySpec
from nextoffer.library.integrity import Stored
from nextoffer.library.query import DocTable, ListQuery, Page, Ranked, order_text, paginate
from nextoffer.library.references import find_references
from nextoffer.library.validation import check_integrity, check_referrers, parse_document
from nextoffer.memory import settle_long_lived
from nextoffer.records.library import ObjectRow, Sandbox
from nextoffer.store import library_repo as repo
from nextoffer.store.database import Database
from nextoffer.store.snapshots import SandboxSnapshot, SnapshotCache
from nextoffer.tenants import Actor, Tenant
from nextoffer.timeutil import utcnow

Doc = dict[str, Any]


class TransactionView:
    """`LibraryView` over an open write transaction; objects read once are remembered."""

    def __init__(self, conn: Connection, sandbox_pk: int, limits: Limits) -> None:
        self.conn = conn
        self.sandbox_pk = sandbox_pk
        self.limits = limits
        self._seen: dict[str, Stored | None] = {}

    def preload(self, ids: Iterable[str]) -> None:
        """Fetch many objects in one query (a document's references, before checking them)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._seen]
        if not wanted:
            return
        rows = repo.get_many(self.conn, self.sandbox_pk, wanted)
        for object_id in wanted:
            row = rows.get(object_id)
            self._seen[object_id] = Stored(row.kind, row.doc) if row else None

    def get(self, object_id: str) -> Stored | None:
        if object_id not in self._seen:
            self.preload([object_id])
        return self._seen[object_id]

    def count(self, kinds: tuple[str, ...]) -> int:
        return repo.count(self.conn, self.sandbox_pk, kinds)

    def count_live_decisions(self) -> int:
        return repo.count_with_field(self.conn, self.sandbox_pk, "offer-activity", "status", "live")


@dataclass(frozen=True, slots=True)
class Written:
    """What a write returns: the stored read model and its receipt."""

    doc: Doc
    receipt: Doc


def etag_matches(header: str, etag: int) -> bool:
    """Does an `If-Match`/`If-None-Match` value (`"3"`, `3`, `W/"3"`, `*`, lists) name `etag`?"""
    for part in header.split(","):
        token = part.strip()
        if token == "*":
            return True
        token = token.removeprefix("W/").strip('"')
        if token == str(etag):
            return True
    return False


class LibraryService:
    def __init__(
        self,
        db: Database,
        limits: Limits,
        snapshots: SnapshotCache,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.limits = limits
        self.snapshots = snapshots
        self.clock = clock
        self._sandboxes: dict[tuple[str, str], Sandbox] = {}
        self._tables: BuildCache[DocTable] = BuildCache(16)
        self._ranked: BuildCache[list[Ranked]] = BuildCache(64)

    # -- sandboxes ----------------------------------------------------------------------------

    def sandbox(self, conn: Connection, tenant: Tenant, *, create: bool) -> Sandbox | None:
        key = (tenant.org, tenant.sandbox)
        found = self._sandboxes.get(key)
        if found is None:
            found = repo.find_sandbox(conn, *key)
            if found is not None:
                self._sandboxes[key] = found
            elif create:
                # not cached: the transaction creating it may still roll back
                found = repo.ensure_sandbox(conn, *key)
        return found

    def find_sandbox(self, tenant: Tenant) -> Sandbox | None:
        """The tenant's sandbox row, from memory once seen (rows never change their ids)."""
        found = self._sandboxes.get((tenant.org, tenant.sandbox))
        if found is None:
            with self.db.read() as conn:
                found = self.sandbox(conn, tenant, create=False)
        return found

    @contextmanager
    def writing(self, tenant: Tenant) -> Iterator[tuple[Connection, Sandbox, int]]:
        """A write transaction on the tenant's sandbox, holding its next revision."""
        with self.db.write() as conn:
            sandbox = self.sandbox(conn, tenant, create=True)
            assert sandbox is not None
            yield conn, sandbox, repo.bump_revision(conn, sandbox.pk)
        self.snapshots.note_write(sandbox.pk)  # committed: this process sees it at once

    def snapshot(self, tenant: Tenant) -> SandboxSnapshot | None:
        sandbox = self.find_sandbox(tenant)
        return self.snapshots.get(sandbox.pk) if sandbox else None

    # -- reads --------------------------------------------------------------------------------

    def get(self, tenant: Tenant, spec: EntitySpec, object_id: str) -> Doc:
        with self.db.read() as conn:
            sandbox = self.sandbox(conn, tenant, create=False)
            row = repo.get(conn, sandbox.pk, object_id) if sandbox else None
        if row is None or row.kind != spec.kind:
            raise _not_found(spec, object_id)
        return row.doc

    def list(self, tenant: Tenant, spec: EntitySpec, query: ListQuery) -> Page:
        snap = self.snapshot(tenant)
        if snap is None:
            return paginate([], query)
        table_key = (snap.sandbox_pk, snap.revision, spec.kind)
        key = (*table_key, tuple(f.text for f in query.filters), order_text(query.order))

        def table(_: DocTable | None) -> DocTable:
            built = DocTable(snap.of_kind(spec.kind).values())
            settle_long_lived()
            return built

        def rank(_: list[Ranked] | None) -> list[Ranked]:
            found = self._tables.get(table_key, lambda t: True, table)
            return found.rank(query.order, query.filters)

        ranked = self._ranked.get(key, lambda r: True, rank)
        return paginate(ranked, query)

    # -- writes -------------------------------------------------------------------------------

    def create(self, tenant: Tenant, actor: Actor, spec: EntitySpec, raw: Any) -> Written:
        body = parse_document(spec, raw)
        now = documents.timestamp(spec, self.clock())
        with self.writing(tenant) as (conn, sandbox, revision):
            doc = documents.read_model(
                spec,
                object_id=new_id(spec.kind),
                etag=1,
                created=now,
                modified=now,
                created_by=actor.user,
                modified_by=actor.user,
                body=body,
            )
            targets = _targets(spec, doc)
            view = TransactionView(conn, sandbox.pk, self.limits)
            view.preload(target for _, target in targets)
            check_integrity(spec, doc, view, old=None)
            row = ObjectRow(
                doc["id"], spec.kind, 1, revision, now, now, actor.client_id, actor.client_id, doc
            )
            repo.insert_object(conn, sandbox.pk, row)
            repo.replace_references(conn, sandbox.pk, row.id, targets, new=True)
            return Written(doc, _receipt(row, sandbox))

    def patch(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        raw_ops: Any,
        if_match: str | None,
    ) -> Written:
        ops = patching.validate_operations(raw_ops)
        return self._update(
            tenant,
            actor,
            spec,
            object_id,
            if_match,
            lambda old: documents.body_of(patching.apply_operations(old, ops)),
        )

    def replace(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        raw: Any,
        if_match: str | None,
    ) -> Written:
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k not in documents.SYSTEM_FIELDS or k == "id"}
            if raw.get("id", object_id) != object_id:
                raise RuleViolation.at(
                    f"the body's id {raw['id']} is not the id in the path ({object_id})",
                    pointer="/id",
                    code="system-field",
                )
            raw.pop("id", None)
        return self._update(tenant, actor, spec, object_id, if_match, lambda old: raw)

    def _update(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        if_match: str | None,
        new_body: Callable[[Doc], Any],
    ) -> Written:
        with self.writing(tenant) as (conn, sandbox, revision):
            row = repo.get(conn, sandbox.pk, object_id)
            if row is None or row.kind != spec.kind:
                raise _not_found(spec, object_id)
            _check_if_match(if_match, row.etag)
            body = parse_document(spec, new_body(row.doc))
            now = documents.timestamp(spec, self.clock())
            doc = documents.read_model(
                spec,
                object_id=object_id,
                etag=row.etag + 1,
                created=row.doc["created"],
                modified=now,
                created_by=row.doc["createdBy"],
                modified_by=actor.user,
                body=body,
            )
            targets = _targets(spec, doc)
            view = TransactionView(conn, sandbox.pk, self.limits)
            view.preload(target for _, target in targets)
            check_integrity(spec, doc, view, old=row.doc)
            if spec.contract_fields:
                check_referrers(
                    spec, object_id, doc, row.doc, view, repo.referrers(conn, sandbox.pk, object_id)
                )
            new_row = ObjectRow(
                object_id,
                spec.kind,
                row.etag + 1,
                revision,
                row.created,
                now,
                row.created_by_client_id,
                actor.client_id,
                doc,
            )
            if not repo.update_object(conn, sandbox.pk, new_row, expected_etag=row.etag):
                raise PreconditionFailed.at(
                    f"{object_id} changed while this update ran; read it again and retry",
                    parameter="If-Match",
                )
            repo.replace_references(conn, sandbox.pk, object_id, targets)
            return Written(doc, _receipt(new_row, sandbox))

    def delete(
        self, tenant: Tenant, actor: Actor, spec: EntitySpec, object_id: str, if_match: str | None
    ) -> None:
        with self.writing(tenant) as (conn, sandbox, revision):
            row = repo.get(conn, sandbox.pk, object_id)
            if row is None or row.kind != spec.kind:
                raise _not_found(spec, object_id)
            _check_if_match(if_match, row.etag)
            referrers = repo.referrers(conn, sandbox.pk, object_id)
            if referrers:
                raise _referenced(spec, object_id, referrers)
            repo.delete_object(conn, sandbox.pk, object_id, spec.kind, revision)


def _targets(spec: EntitySpec, doc: Doc) -> list[tuple[str, str]]:
    return [(pointer, target) for pointer, target, _ in find_references(spec.references, doc)]


def _receipt(row: ObjectRow, sandbox: Sandbox) -> Doc:
    return documents.receipt(
        row.doc,
        sandbox_id=sandbox.sandbox_id,
        created_by_client_id=row.created_by_client_id,
        last_modified_by_client_id=row.last_modified_by_client_id,
    )


def _check_if_match(if_match: str | None, etag: int) -> None:
    if if_match is not None and not etag_matches(if_match, etag):
        raise PreconditionFailed.at(
            f"If-Match {if_match} does not match the current etag {etag}; "
            "read the object again and reapply your change",
            parameter="If-Match",
            current_etag=etag,
        )


def _not_found(spec: EntitySpec, object_id: str) -> NotFound:
    return NotFound.at(
        f"there is no {spec.title.lower()} {object_id} in this sandbox", parameter="id"
    )


def _referenced(
    spec: EntitySpec, object_id: str, referrers: Sequence[tuple[str, str, str]]
) -> Conflict:
    names = sorted({f"{KIND_TITLES.get(kind, kind)} {source}" for source, kind, _ in referrers})
    errors = [
        FieldError(
            f"{KIND_TITLES.get(kind, kind)} {source} references it at {pointer}",
            pointer=pointer,
        )
        for source, kind, pointer in referrers
    ]
    return Conflict(
        f"{spec.title.lower()} {object_id} is still referenced by {', '.join(names)}; "
        "remove those references first",
        code="still-referenced",
        errors=tuple(errors),
        extra={
            "referrers": [
                {"id": source, "kind": kind, "pointer": pointer}
                for source, kind, pointer in referrers
            ]
        },
    )
