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

from nextoffer.caching import BuildCache
from nextoffer.config import Limits
from nextoffer.errors import Conflict, FieldError, NotFound, PreconditionFailed, RuleViolation
from nextoffer.ids import new_id
from nextoffer.library import documents, patching
from nextoffer.library.entities import ENTITIES, KIND_TITLES, EntitySpec
from nextoffer.library.integrity import Stored
from nextoffer.library.ports import LibraryStore, LibraryWrite, Referrer, SnapshotSource
from nextoffer.library.query import DocTable, ListQuery, Page, Ranked, order_text, paginate
from nextoffer.library.references import find_references
from nextoffer.library.validation import check_integrity, check_referrers, parse_document
from nextoffer.memory import settle_long_lived
from nextoffer.records.etags import ETagCondition
from nextoffer.records.library import ObjectRow, Sandbox, SandboxSnapshot
from nextoffer.tenants import Actor, Tenant
from nextoffer.timeutil import utcnow

MAX_LISTED = 20
"""At most this many sandbox (or org) names in an unknown sandbox's 404."""

Doc = dict[str, Any]


class WriteView:
    """`LibraryView` over an open write; objects read once are remembered."""

    def __init__(self, tx: LibraryWrite, limits: Limits) -> None:
        self.tx = tx
        self.limits = limits
        self._seen: dict[str, Stored | None] = {}

    def preload(self, ids: Iterable[str]) -> None:
        """Fetch many objects in one query (a document's references, before checking them)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._seen]
        if not wanted:
            return
        rows = self.tx.get_many(wanted)
        for object_id in wanted:
            row = rows.get(object_id)
            self._seen[object_id] = Stored(row.kind, row.doc) if row else None

    def get(self, object_id: str) -> Stored | None:
        if object_id not in self._seen:
            self.preload([object_id])
        return self._seen[object_id]

    def count(self, kinds: tuple[str, ...]) -> int:
        return self.tx.count(kinds)

    def count_live_decisions(self) -> int:
        return self.tx.count_with_field("offer-activity", "status", "live")


@dataclass(frozen=True, slots=True)
class Written:
    """What a write returns: the stored read model and its receipt."""

    doc: Doc
    receipt: Doc


class LibraryService:
    def __init__(
        self,
        store: LibraryStore,
        limits: Limits,
        snapshots: SnapshotSource,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.limits = limits
        self.snapshots = snapshots
        self.clock = clock
        self._tables: BuildCache[DocTable] = BuildCache(16)
        self._ranked: BuildCache[list[Ranked]] = BuildCache(64)

    # -- sandboxes ----------------------------------------------------------------------------

    def find_sandbox(self, tenant: Tenant) -> Sandbox | None:
        """The tenant's sandbox, or None when nothing was ever written to it."""
        return self.store.find_sandbox(tenant.org, tenant.sandbox)

    def require_sandbox(
        self, tenant: Tenant, shown: Callable[[str], bool] = lambda _: True, *, hint: str = ""
    ) -> Sandbox:
        """The tenant's sandbox; an unknown one is `404 unknown-sandbox` naming the org's
        sandboxes (those `shown` lets the caller see, at most MAX_LISTED), so a typo in a
        header is an error, not an empty answer. With none to name, it names the orgs that have
        sandboxes (`shown("*")`: only where every org is the caller's, as in open mode)."""
        found = self.find_sandbox(tenant)
        if found is not None:
            return found
        known = [n for n in self.store.sandbox_names(tenant.org, MAX_LISTED) if shown(n)]
        extra: dict[str, object] = {"knownSandboxes": known}
        if known:
            where = f"; the sandboxes of {tenant.org}: {', '.join(known)}"
        else:
            where = f"; org {tenant.org} has no sandbox"
            if shown("*"):
                orgs = self.store.sandbox_names(None, MAX_LISTED)
                extra["knownOrgs"] = orgs
                where += f" (orgs with sandboxes: {', '.join(orgs) or 'none'})"
        raise NotFound.at(
            f"there is no sandbox {tenant.sandbox!r} in org {tenant.org}{where}{hint}",
            parameter="x-sandbox-name",
            code="unknown-sandbox",
            **extra,
        )

    def create_sandbox(self, tenant: Tenant) -> tuple[Sandbox, bool]:
        """The tenant's sandbox, created if it does not exist; True when it was created."""
        return self.store.create_sandbox(tenant.org, tenant.sandbox)

    @contextmanager
    def writing(self, tenant: Tenant) -> Iterator[LibraryWrite]:
        """A write transaction on the tenant's sandbox, holding its next revision."""
        with self.store.writing(tenant.org, tenant.sandbox) as tx:
            yield tx
        self.snapshots.note_write(tx.sandbox.pk)  # committed: this process sees it at once

    def snapshot(self, tenant: Tenant) -> SandboxSnapshot | None:
        sandbox = self.find_sandbox(tenant)
        return self.snapshots.get(sandbox.pk) if sandbox else None

    # -- reads --------------------------------------------------------------------------------

    def get(self, tenant: Tenant, spec: EntitySpec, object_id: str) -> Doc:
        sandbox = self.find_sandbox(tenant)
        row = self.store.get(sandbox.pk, object_id) if sandbox else None
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

    def used_by(self, tenant: Tenant, object_id: str) -> list[Referrer]:
        """Every `(source id, source kind, pointer)` naming `object_id` in the sandbox's current
        snapshot: the "used by" of a detail page, without a write transaction."""
        snap = self.snapshot(tenant)
        if snap is None:
            return []
        return [
            (doc["id"], spec.kind, pointer)
            for spec in ENTITIES
            if spec.references
            for doc in snap.of_kind(spec.kind).values()
            for pointer, target, _ in find_references(spec.references, doc)
            if target == object_id
        ]

    # -- writes -------------------------------------------------------------------------------

    def create(self, tenant: Tenant, actor: Actor, spec: EntitySpec, raw: Any) -> Written:
        body = parse_document(spec, raw)
        now = documents.timestamp(spec, self.clock())
        with self.writing(tenant) as tx:
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
            view = WriteView(tx, self.limits)
            view.preload(target for _, target in targets)
            check_integrity(spec, doc, view, old=None)
            row = ObjectRow(
                doc["id"],
                spec.kind,
                1,
                tx.revision,
                now,
                now,
                actor.client_id,
                actor.client_id,
                doc,
            )
            tx.insert(row)
            tx.replace_references(row.id, targets, new=True)
            return Written(doc, _receipt(row, tx.sandbox))

    def patch(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        raw_ops: Any,
        expected_etag: ETagCondition | None,
    ) -> Written:
        ops = patching.validate_operations(raw_ops)
        return self._update(
            tenant,
            actor,
            spec,
            object_id,
            expected_etag,
            lambda old: documents.body_of(patching.apply_operations(old, ops)),
        )

    def replace(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        raw: Any,
        expected_etag: ETagCondition | None,
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
        return self._update(tenant, actor, spec, object_id, expected_etag, lambda old: raw)

    def _update(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        expected_etag: ETagCondition | None,
        new_body: Callable[[Doc], Any],
    ) -> Written:
        with self.writing(tenant) as tx:
            row = _current(tx, spec, object_id, expected_etag)
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
            view = WriteView(tx, self.limits)
            view.preload(target for _, target in targets)
            check_integrity(spec, doc, view, old=row.doc)
            if spec.contract_fields:
                check_referrers(spec, object_id, doc, row.doc, view, tx.referrers(object_id))
            new_row = ObjectRow(
                object_id,
                spec.kind,
                row.etag + 1,
                tx.revision,
                row.created,
                now,
                row.created_by_client_id,
                actor.client_id,
                doc,
            )
            if not tx.update(new_row, expected_etag=row.etag):
                raise PreconditionFailed.at(
                    f"{object_id} changed while this update ran; read it again and retry",
                    parameter="If-Match",
                )
            tx.replace_references(object_id, targets)
            return Written(doc, _receipt(new_row, tx.sandbox))

    def delete(
        self,
        tenant: Tenant,
        actor: Actor,
        spec: EntitySpec,
        object_id: str,
        expected_etag: ETagCondition | None,
    ) -> None:
        with self.writing(tenant) as tx:
            _current(tx, spec, object_id, expected_etag)
            referrers = tx.referrers(object_id)
            if referrers:
                raise _referenced(spec, object_id, referrers)
            tx.delete(object_id, spec.kind)


def _targets(spec: EntitySpec, doc: Doc) -> list[tuple[str, str]]:
    return [(pointer, target) for pointer, target, _ in find_references(spec.references, doc)]


def _receipt(row: ObjectRow, sandbox: Sandbox) -> Doc:
    return documents.receipt(
        row.doc,
        sandbox_id=sandbox.sandbox_id,
        created_by_client_id=row.created_by_client_id,
        last_modified_by_client_id=row.last_modified_by_client_id,
    )


def _current(
    tx: LibraryWrite, spec: EntitySpec, object_id: str, expected: ETagCondition | None
) -> ObjectRow:
    """The object as this write sees it: 404 if it is not one of `spec`'s, 412 if stale."""
    row = tx.get(object_id)
    if row is None or row.kind != spec.kind:
        raise _not_found(spec, object_id)
    _check_etag(expected, row.etag)
    return row


def _check_etag(expected: ETagCondition | None, etag: int) -> None:
    if expected is not None and not expected.matches(etag):
        raise PreconditionFailed.at(
            f"If-Match {expected.header} does not match the current etag {etag}; "
            "read the object again and reapply your change",
            parameter="If-Match",
            current_etag=etag,
        )


def _not_found(spec: EntitySpec, object_id: str) -> NotFound:
    return NotFound.at(
        f"there is no {spec.title.lower()} {object_id} in this sandbox", parameter="id"
    )


def _referenced(spec: EntitySpec, object_id: str, referrers: Sequence[Referrer]) -> Conflict:
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
