"""SQL for library objects: rows in, rows out; no knowledge of entity schemas.

Every function takes the caller's connection, so several compose into one transaction;
`SqlLibraryStore` and `SqlLibraryWrite` wrap them as the library's ports (`library.ports`).
A write starts with `bump_revision`, which takes the sandbox's row lock on PostgreSQL (SQLite is
already serialised by `BEGIN IMMEDIATE`): writes of one sandbox commit in revision order, which
is what lets snapshots catch up from "everything after revision N".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from nextoffer.records.library import Change, ObjectRow, Sandbox
from nextoffer.store.database import Database
from nextoffer.store.tables import library_objects as objects
from nextoffer.store.tables import library_references as refs
from nextoffer.store.tables import library_tombstones as tombstones
from nextoffer.store.tables import sandboxes
from nextoffer.timeutil import format_utc, utcnow

TOMBSTONE_RETENTION = timedelta(days=7)


_OBJECT_COLUMNS = (
    objects.c.id,
    objects.c.kind,
    objects.c.etag,
    objects.c.revision,
    objects.c.created,
    objects.c.modified,
    objects.c.created_by_client_id,
    objects.c.last_modified_by_client_id,
    objects.c.doc,
)


# Statements are built once: SQLAlchemy then only binds parameters, five times cheaper than
# building an expression per call on the write path.
_FIND_SANDBOX = select(sandboxes.c.pk, sandboxes.c.sandbox_id).where(
    sandboxes.c.org == bindparam("b_org"), sandboxes.c.name == bindparam("b_name")
)
_BUMP = (
    update(sandboxes)
    .where(sandboxes.c.pk == bindparam("b_pk"))
    .values(revision=sandboxes.c.revision + 1)
    .returning(sandboxes.c.revision)
)
_REVISION = select(sandboxes.c.revision, sandboxes.c.tombstones_pruned_through).where(
    sandboxes.c.pk == bindparam("b_pk")
)
_GET = select(*_OBJECT_COLUMNS).where(
    objects.c.sandbox_pk == bindparam("b_pk"), objects.c.id == bindparam("b_id")
)
_GET_MANY = select(*_OBJECT_COLUMNS).where(
    objects.c.sandbox_pk == bindparam("b_pk"), objects.c.id.in_(bindparam("b_ids", expanding=True))
)
_COUNT = (
    select(func.count())
    .select_from(objects)
    .where(
        objects.c.sandbox_pk == bindparam("b_pk"),
        objects.c.kind.in_(bindparam("b_kinds", expanding=True)),
    )
)
_INSERT_OBJECT = insert(objects)
_UPDATE_OBJECT = (
    update(objects)
    .where(
        objects.c.sandbox_pk == bindparam("b_pk"),
        objects.c.id == bindparam("b_id"),
        objects.c.etag == bindparam("b_etag"),
    )
    .values(
        etag=bindparam("etag"),
        revision=bindparam("revision"),
        modified=bindparam("modified"),
        last_modified_by_client_id=bindparam("last_modified_by_client_id"),
        doc=bindparam("doc", type_=objects.c.doc.type),
    )
)
_DELETE_REFERENCES = delete(refs).where(
    refs.c.sandbox_pk == bindparam("b_pk"), refs.c.source_id == bindparam("b_id")
)
_INSERT_REFERENCES = insert(refs)
_REFERRERS = (
    select(refs.c.source_id, objects.c.kind, refs.c.pointer)
    .join(
        objects,
        and_(objects.c.sandbox_pk == refs.c.sandbox_pk, objects.c.id == refs.c.source_id),
    )
    .where(refs.c.sandbox_pk == bindparam("b_pk"), refs.c.target_id == bindparam("b_target"))
    .order_by(refs.c.source_id, refs.c.pointer)
)


def find_sandbox(conn: Connection, org: str, name: str) -> Sandbox | None:
    row = conn.execute(_FIND_SANDBOX, {"b_org": org, "b_name": name}).first()
    return Sandbox(row.pk, org, name, row.sandbox_id) if row else None


def ensure_sandbox(conn: Connection, org: str, name: str) -> Sandbox:
    """The sandbox row, created on first use (sandboxes need no set-up call)."""
    found = find_sandbox(conn, org, name)
    if found:
        return found
    values = {
        "org": org,
        "name": name,
        "sandbox_id": str(uuid.uuid4()),
        "revision": 0,
        "tombstones_pruned_through": 0,
        "created": format_utc(utcnow()),
    }
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(sandboxes).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(sandboxes).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported dialects reach here
        stmt = insert(sandboxes).values(values)
    conn.execute(stmt)
    found = find_sandbox(conn, org, name)
    assert found is not None
    return found


def list_sandboxes(conn: Connection) -> list[Sandbox]:
    rows = conn.execute(
        select(sandboxes.c.pk, sandboxes.c.org, sandboxes.c.name, sandboxes.c.sandbox_id).order_by(
            sandboxes.c.org, sandboxes.c.name
        )
    )
    return [Sandbox(r.pk, r.org, r.name, r.sandbox_id) for r in rows]


def sandbox_names(conn: Connection, org: str | None, limit: int) -> list[str]:
    """The names of an org's sandboxes (`org` None: the orgs that have any), sorted, at most
    `limit`: what an unknown sandbox's 404 lists."""
    column = sandboxes.c.name if org is not None else sandboxes.c.org
    stmt = select(column).distinct().order_by(column).limit(limit)
    if org is not None:
        stmt = stmt.where(sandboxes.c.org == org)
    return [row[0] for row in conn.execute(stmt)]


def bump_revision(conn: Connection, sandbox_pk: int) -> int:
    """Take the next revision of the sandbox (and, on PostgreSQL, its row lock until commit)."""
    return conn.execute(_BUMP, {"b_pk": sandbox_pk}).scalar_one()


def revision(conn: Connection, sandbox_pk: int) -> tuple[int, int]:
    """(current revision, revision through which tombstones were pruned)."""
    row = conn.execute(_REVISION, {"b_pk": sandbox_pk}).one()
    return row.revision, row.tombstones_pruned_through


def _row(r: Any) -> ObjectRow:
    return ObjectRow(
        r.id,
        r.kind,
        r.etag,
        r.revision,
        r.created,
        r.modified,
        r.created_by_client_id,
        r.last_modified_by_client_id,
        r.doc,
    )


def get(conn: Connection, sandbox_pk: int, object_id: str) -> ObjectRow | None:
    r = conn.execute(
        select(*_OBJECT_COLUMNS).where(
            objects.c.sandbox_pk == sandbox_pk, objects.c.id == object_id
        )
    ).first()
    return _row(r) if r else None


def get_many(conn: Connection, sandbox_pk: int, ids: Iterable[str]) -> dict[str, ObjectRow]:
    wanted = list(dict.fromkeys(ids))
    out: dict[str, ObjectRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(_GET_MANY, {"b_pk": sandbox_pk, "b_ids": chunk})
        out.update((r.id, _row(r)) for r in rows)
    return out


def all_objects(conn: Connection, sandbox_pk: int) -> list[ObjectRow]:
    rows = conn.execute(
        select(*_OBJECT_COLUMNS).where(objects.c.sandbox_pk == sandbox_pk).order_by(objects.c.id)
    )
    return [_row(r) for r in rows]


def count(conn: Connection, sandbox_pk: int, kinds: Sequence[str]) -> int:
    return conn.execute(_COUNT, {"b_pk": sandbox_pk, "b_kinds": list(kinds)}).scalar_one()


def count_with_field(conn: Connection, sandbox_pk: int, kind: str, field: str, value: str) -> int:
    """How many objects of `kind` have the top-level string `field` equal to `value`."""
    return conn.execute(
        select(func.count())
        .select_from(objects)
        .where(
            objects.c.sandbox_pk == sandbox_pk,
            objects.c.kind == kind,
            objects.c.doc[field].as_string() == value,
        )
    ).scalar_one()


def insert_object(conn: Connection, sandbox_pk: int, row: ObjectRow) -> None:
    conn.execute(
        _INSERT_OBJECT,
        {
            "sandbox_pk": sandbox_pk,
            "id": row.id,
            "kind": row.kind,
            "etag": row.etag,
            "revision": row.revision,
            "created": row.created,
            "modified": row.modified,
            "created_by_client_id": row.created_by_client_id,
            "last_modified_by_client_id": row.last_modified_by_client_id,
            "doc": row.doc,
        },
    )


def update_object(conn: Connection, sandbox_pk: int, row: ObjectRow, expected_etag: int) -> bool:
    """Write a new version if the stored etag is still `expected_etag`; False if it moved."""
    result = conn.execute(
        _UPDATE_OBJECT,
        {
            "b_pk": sandbox_pk,
            "b_id": row.id,
            "b_etag": expected_etag,
            "etag": row.etag,
            "revision": row.revision,
            "modified": row.modified,
            "last_modified_by_client_id": row.last_modified_by_client_id,
            "doc": row.doc,
        },
    )
    return result.rowcount == 1


def delete_object(conn: Connection, sandbox_pk: int, object_id: str, kind: str, rev: int) -> None:
    """Delete an object and its outgoing references, leaving a tombstone for snapshots."""
    conn.execute(
        delete(objects).where(objects.c.sandbox_pk == sandbox_pk, objects.c.id == object_id)
    )
    conn.execute(delete(refs).where(refs.c.sandbox_pk == sandbox_pk, refs.c.source_id == object_id))
    now = utcnow()
    conn.execute(
        insert(tombstones).values(
            sandbox_pk=sandbox_pk, id=object_id, revision=rev, kind=kind, deleted=format_utc(now)
        )
    )
    _prune_tombstones(conn, sandbox_pk, format_utc(now - TOMBSTONE_RETENTION))


def _prune_tombstones(conn: Connection, sandbox_pk: int, older_than: str) -> None:
    through = conn.execute(
        select(func.max(tombstones.c.revision)).where(
            tombstones.c.sandbox_pk == sandbox_pk, tombstones.c.deleted < older_than
        )
    ).scalar_one()
    if through is None:
        return
    conn.execute(
        delete(tombstones).where(
            tombstones.c.sandbox_pk == sandbox_pk, tombstones.c.revision <= through
        )
    )
    conn.execute(
        update(sandboxes)
        .where(sandboxes.c.pk == sandbox_pk)
        .values(tombstones_pruned_through=through)
    )


def replace_references(
    conn: Connection,
    sandbox_pk: int,
    source_id: str,
    found: Iterable[tuple[str, str]],
    *,
    new: bool = False,
) -> None:
    """Store the `(pointer, target id)` pairs an object holds, replacing what it held before."""
    if not new:
        conn.execute(_DELETE_REFERENCES, {"b_pk": sandbox_pk, "b_id": source_id})
    rows = [
        {"sandbox_pk": sandbox_pk, "source_id": source_id, "pointer": p, "target_id": t}
        for p, t in found
    ]
    if rows:
        conn.execute(_INSERT_REFERENCES, rows)


def referrers(conn: Connection, sandbox_pk: int, target_id: str) -> list[tuple[str, str, str]]:
    """`(source id, source kind, pointer)` of every reference to `target_id`."""
    rows = conn.execute(_REFERRERS, {"b_pk": sandbox_pk, "b_target": target_id})
    return [(r.source_id, r.kind, r.pointer) for r in rows]


def changes_since(conn: Connection, sandbox_pk: int, after: int) -> list[Change]:
    """Objects written and deleted after revision `after`, oldest first, in one statement.

    One statement means one snapshot on every dialect, so the result is a consistent prefix of
    the sandbox's history.
    """
    written = select(
        objects.c.revision.label("revision"),
        objects.c.kind.label("kind"),
        objects.c.id.label("id"),
        objects.c.doc.label("doc"),
        literal(0).label("deleted"),
    ).where(objects.c.sandbox_pk == sandbox_pk, objects.c.revision > after)
    deleted = select(
        tombstones.c.revision,
        tombstones.c.kind,
        tombstones.c.id,
        null().label("doc"),
        literal(1).label("deleted"),
    ).where(tombstones.c.sandbox_pk == sandbox_pk, tombstones.c.revision > after)
    both = union_all(written, deleted).subquery()
    rows = conn.execute(select(both).order_by(both.c.revision, both.c.deleted.desc()))
    return [Change(r.revision, r.kind, r.id, None if r.deleted else _doc(r.doc)) for r in rows]


def _doc(value: Any) -> dict[str, Any]:
    # a NULL-typed union column may come back as JSON text on SQLite
    if isinstance(value, str | bytes):
        import orjson

        return orjson.loads(value)
    return value


class SqlLibraryWrite:
    """The library's `LibraryWrite` port over an open write transaction."""

    __slots__ = ("conn", "revision", "sandbox")

    def __init__(self, conn: Connection, sandbox: Sandbox, revision: int) -> None:
        self.conn = conn
        self.sandbox = sandbox
        self.revision = revision

    def get(self, object_id: str) -> ObjectRow | None:
        return get(self.conn, self.sandbox.pk, object_id)

    def get_many(self, ids: Iterable[str]) -> dict[str, ObjectRow]:
        return get_many(self.conn, self.sandbox.pk, ids)

    def all_objects(self) -> list[ObjectRow]:
        return all_objects(self.conn, self.sandbox.pk)

    def count(self, kinds: Sequence[str]) -> int:
        return count(self.conn, self.sandbox.pk, kinds)

    def count_with_field(self, kind: str, field: str, value: str) -> int:
        return count_with_field(self.conn, self.sandbox.pk, kind, field, value)

    def insert(self, row: ObjectRow) -> None:
        insert_object(self.conn, self.sandbox.pk, row)

    def update(self, row: ObjectRow, expected_etag: int) -> bool:
        return update_object(self.conn, self.sandbox.pk, row, expected_etag)

    def delete(self, object_id: str, kind: str) -> None:
        delete_object(self.conn, self.sandbox.pk, object_id, kind, self.revision)

    def replace_references(
        self, source_id: str, targets: Iterable[tuple[str, str]], *, new: bool = False
    ) -> None:
        replace_references(self.conn, self.sandbox.pk, source_id, targets, new=new)

    def referrers(self, target_id: str) -> list[tuple[str, str, str]]:
        return referrers(self.conn, self.sandbox.pk, target_id)


class SqlLibraryStore:
    """The library's `LibraryStore` port; sandbox rows are remembered once seen (their ids
    never change)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sandboxes: dict[tuple[str, str], Sandbox] = {}

    def _sandbox(self, conn: Connection, org: str, name: str) -> Sandbox | None:
        found = self._sandboxes.get((org, name))
        if found is None:
            found = find_sandbox(conn, org, name)
            if found is not None:
                self._sandboxes[(org, name)] = found
        return found

    def find_sandbox(self, org: str, name: str) -> Sandbox | None:
        found = self._sandboxes.get((org, name))
        if found is None:
            with self.db.read() as conn:
                found = self._sandbox(conn, org, name)
        return found

    def sandbox_names(self, org: str | None, limit: int) -> list[str]:
        with self.db.read() as conn:
            return sandbox_names(conn, org, limit)

    def create_sandbox(self, org: str, name: str) -> tuple[Sandbox, bool]:
        """The sandbox, created if it does not exist yet; True when this call created it."""
        with self.db.write() as conn:
            found = find_sandbox(conn, org, name)
            if found is not None:
                return found, False
            return ensure_sandbox(conn, org, name), True

    def get(self, sandbox_pk: int, object_id: str) -> ObjectRow | None:
        with self.db.read() as conn:
            return get(conn, sandbox_pk, object_id)

    def all_objects(self, sandbox_pk: int) -> list[ObjectRow]:
        with self.db.read() as conn:
            return all_objects(conn, sandbox_pk)

    @contextmanager
    def writing(self, org: str, name: str) -> Iterator[SqlLibraryWrite]:
        """One transaction holding the sandbox's next revision (and, on PostgreSQL, its row
        lock): writers of a sandbox queue here and commit in revision order."""
        with self.db.write() as conn:
            # a sandbox created here is not remembered: the transaction may still roll back
            sandbox = self._sandbox(conn, org, name) or ensure_sandbox(conn, org, name)
            yield SqlLibraryWrite(conn, sandbox, bump_revision(conn, sandbox.pk))
