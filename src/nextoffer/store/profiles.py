"""The profile store: profiles found by any identity, written whole, merge-patched or in bulk.

Reads are one indexed query (the identity index joined to the profile row) and cache nothing.
Every write is one transaction that reads the profiles it touches into a `MergePlan`
(`profiles.merge`: the identity-merge rules, pure), then writes the differences it planned: the
profile rows, and the identity and audience index rows that were added, changed or removed. A
failure anywhere rolls the whole write back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from nextoffer.errors import Conflict, FieldError, InvalidInput
from nextoffer.jsonlines import Line
from nextoffer.profiles.documents import (
    Identity,
    ProfileData,
    body_of,
    canonical_patch,
    parse_events,
    parse_profile,
)
from nextoffer.profiles.events import cutoff, within
from nextoffer.profiles.merge import (
    BulkResult,
    MergePlan,
    Written,
    at_line,
    data_of,
    identity_keys,
    no_profile,
    with_identity,
)
from nextoffer.profiles.merge_patch import merge_patch
from nextoffer.profiles.model import Profile
from nextoffer.records.etags import ETagCondition
from nextoffer.store.database import Database
from nextoffer.store.profile_tables import profile_identities as idx
from nextoffer.store.profile_tables import profile_segments as seg
from nextoffer.store.profile_tables import profiles as tbl
from nextoffer.store.sandbox_ids import SandboxIds
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow

MEMBER = ("realized", "existing")
_CHUNK = 1000
_KEYS_PER_QUERY = 2000
_WRITE_ATTEMPTS = 3

_BASE = (
    tbl.c.profile_id,
    tbl.c.etag,
    tbl.c.created,
    tbl.c.modified,
    tbl.c.identity_map,
    tbl.c.attributes,
    tbl.c.segments,
)
_FULL = (*_BASE, tbl.c.events)


def _columns(with_events: bool) -> tuple[Any, ...]:
    return _FULL if with_events else _BASE


@lru_cache(maxsize=64)
def _find_statement(count: int, with_events: bool) -> Any:
    """The profile owning any of `count` identities: one statement, each identity an indexed
    equality on the identity key (a row-value IN would scan the sandbox on SQLite)."""
    if count == 1:
        owner: Any = (idx.c.namespace == bindparam("b_ns0")) & (
            idx.c.identity == bindparam("b_id0")
        )
    else:
        owner = or_(
            *(
                and_(
                    idx.c.namespace == bindparam(f"b_ns{i}"),
                    idx.c.identity == bindparam(f"b_id{i}"),
                )
                for i in range(count)
            )
        )
    owners = select(idx.c.profile_id).where(idx.c.sandbox_pk == bindparam("b_pk"), owner)
    match = (
        tbl.c.profile_id == owners.scalar_subquery() if count == 1 else tbl.c.profile_id.in_(owners)
    )
    return select(*_columns(with_events)).where(tbl.c.sandbox_pk == bindparam("b_pk"), match)


def _find_params(pk: int, keys: Sequence[Identity]) -> dict[str, Any]:
    params: dict[str, Any] = {"b_pk": pk}
    for i, (ns, value) in enumerate(keys):
        params[f"b_ns{i}"] = ns
        params[f"b_id{i}"] = value
    return params


_MAX_FIND_KEYS = 16
"""More identities than this in one request are looked up in two queries."""

_BY_ID = {
    events: select(*_columns(events)).where(
        tbl.c.sandbox_pk == bindparam("b_pk"), tbl.c.profile_id == bindparam("b_pid")
    )
    for events in (False, True)
}
_OWNERS = select(idx.c.identity, idx.c.profile_id, idx.c.claimed).where(
    idx.c.sandbox_pk == bindparam("b_pk"),
    idx.c.namespace == bindparam("b_ns"),
    idx.c.identity.in_(bindparam("b_ids", expanding=True)),
)
_LOAD = select(*_FULL).where(
    tbl.c.sandbox_pk == bindparam("b_pk"),
    tbl.c.profile_id.in_(bindparam("b_pids", expanding=True)),
)
_PAGE = {
    events: select(*_columns(events))
    .where(tbl.c.sandbox_pk == bindparam("b_pk"), tbl.c.profile_id > bindparam("b_after"))
    .order_by(tbl.c.profile_id)
    .limit(bindparam("b_limit"))
    for events in (False, True)
}
_AUDIENCE_PAGE = {
    events: select(*_columns(events))
    .select_from(
        seg.join(
            tbl, (tbl.c.sandbox_pk == seg.c.sandbox_pk) & (tbl.c.profile_id == seg.c.profile_id)
        )
    )
    .where(
        seg.c.sandbox_pk == bindparam("b_pk"),
        seg.c.audience_id == bindparam("b_audience"),
        seg.c.status.in_(bindparam("b_statuses", expanding=True)),
        seg.c.profile_id > bindparam("b_after"),
    )
    .order_by(seg.c.profile_id)
    .limit(bindparam("b_limit"))
    for events in (False, True)
}
_INSERT_PROFILE = insert(tbl)
_UPDATE_PROFILE = (
    update(tbl)
    .where(tbl.c.sandbox_pk == bindparam("b_pk"), tbl.c.profile_id == bindparam("b_pid"))
    .values(
        etag=bindparam("etag"),
        modified=bindparam("modified"),
        identity_map=bindparam("identity_map", type_=tbl.c.identity_map.type),
        attributes=bindparam("attributes", type_=tbl.c.attributes.type),
        segments=bindparam("segments", type_=tbl.c.segments.type),
        events=bindparam("events", type_=tbl.c.events.type),
    )
)
_DELETE_PROFILE = delete(tbl).where(
    tbl.c.sandbox_pk == bindparam("b_pk"), tbl.c.profile_id == bindparam("b_pid")
)
_INSERT_IDENTITY = insert(idx)
_DELETE_IDENTITY = delete(idx).where(
    idx.c.sandbox_pk == bindparam("b_pk"),
    idx.c.namespace == bindparam("b_ns"),
    idx.c.identity == bindparam("b_id"),
)
_PROMOTE_IDENTITY = (
    update(idx)
    .where(
        idx.c.sandbox_pk == bindparam("b_pk"),
        idx.c.namespace == bindparam("b_ns"),
        idx.c.identity == bindparam("b_id"),
    )
    .values(claimed=False)
)
_INSERT_SEGMENT = insert(seg)
_UPDATE_SEGMENT = (
    update(seg)
    .where(
        seg.c.sandbox_pk == bindparam("b_pk"),
        seg.c.audience_id == bindparam("b_audience"),
        seg.c.profile_id == bindparam("b_pid"),
    )
    .values(status=bindparam("status"))
)
_DELETE_SEGMENT = delete(seg).where(
    seg.c.sandbox_pk == bindparam("b_pk"),
    seg.c.audience_id == bindparam("b_audience"),
    seg.c.profile_id == bindparam("b_pid"),
)


class ProfileStore:
    """Profiles of every sandbox, in the library's database."""

    def __init__(
        self,
        db: Database,
        *,
        event_window_days: int = 30,
        max_events: int = 1000,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.event_window_days = event_window_days
        self.max_events = max_events
        self.clock = clock
        self.sandboxes = SandboxIds(db)

    # -- reads (the decision hot path) --------------------------------------------------------

    def find(
        self, tenant: Tenant, identities: Iterable[tuple[str, str]], *, with_events: bool = False
    ) -> Profile | None:
        """The profile owning any of `identities` (the earliest one that has a profile wins)."""
        keys = identity_keys(identities)
        pk = self.sandboxes.find(tenant)
        if pk is None or not keys:
            return None
        with self.db.read() as conn:
            if len(keys) <= _MAX_FIND_KEYS:
                stmt = _find_statement(len(keys), with_events)
                rows = conn.execute(stmt, _find_params(pk, keys)).all()
            else:
                owners = _owners(conn, pk, keys)
                pid = next((owners[k] for k in keys if k in owners), None)
                params = {"b_pk": pk, "b_pid": pid}
                rows = conn.execute(_BY_ID[with_events], params).all() if pid else []
        if not rows:
            return None
        row = rows[0] if len(rows) == 1 else _first_owner(rows, keys)
        return self._profile(row, with_events)

    def resolve_profile_id(
        self, tenant: Tenant, identities: Iterable[tuple[str, str]]
    ) -> str | None:
        """The id of the profile owning any of `identities`, without reading the profile."""
        keys = identity_keys(identities)
        pk = self.sandboxes.find(tenant)
        if pk is None or not keys:
            return None
        with self.db.read() as conn:
            owners = _owners(conn, pk, keys)
        return next((owners[k] for k in keys if k in owners), None)

    def get_by_id(
        self, tenant: Tenant, profile_id: str, *, with_events: bool = True
    ) -> Profile | None:
        pk = self.sandboxes.find(tenant)
        if pk is None:
            return None
        with self.db.read() as conn:
            row = conn.execute(_BY_ID[with_events], {"b_pk": pk, "b_pid": profile_id}).first()
        return self._profile(row, with_events) if row else None

    def get(self, tenant: Tenant, key: tuple[str, str]) -> Profile:
        """The profile of one identity, events included; 404 when nobody has it."""
        found = self.find(tenant, [key], with_events=True)
        if found is None:
            raise no_profile(key)
        return found

    def iter_profiles(
        self,
        tenant: Tenant,
        *,
        audience: str | None = None,
        statuses: Sequence[str] = MEMBER,
        batch_size: int = 1000,
        with_events: bool = False,
    ) -> Iterator[list[Profile]]:
        """Every profile of the sandbox (or of one audience, in `statuses`), in batches.

        Keyset paging on the profile id: one query per batch, memory bounded by `batch_size`,
        and profiles written meanwhile are seen at most once.
        """
        pk = self.sandboxes.find(tenant)
        if pk is None:
            return
        after = ""
        params: dict[str, Any] = {"b_pk": pk, "b_limit": batch_size}
        if audience is None:
            stmt = _PAGE[with_events]
        else:
            stmt = _AUDIENCE_PAGE[with_events]
            params.update(b_audience=audience, b_statuses=list(statuses))
        oldest = self._oldest()
        while True:
            with self.db.read() as conn:
                rows = conn.execute(stmt, {**params, "b_after": after}).all()
            if not rows:
                return
            yield [self._profile(r, with_events, oldest) for r in rows]
            if len(rows) < batch_size:
                return
            after = rows[-1].profile_id

    def count_members(self, tenant: Tenant, audience: str, statuses: Sequence[str] = MEMBER) -> int:
        """How many profiles of the sandbox are in `audience` (in `statuses`): a batch's total."""
        pk = self.sandboxes.find(tenant)
        if pk is None:
            return 0
        stmt = select(func.count()).where(
            seg.c.sandbox_pk == pk,
            seg.c.audience_id == audience,
            seg.c.status.in_(list(statuses)),
        )
        with self.db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- writes -------------------------------------------------------------------------------

    def put(
        self,
        tenant: Tenant,
        data: ProfileData,
        *,
        key: tuple[str, str] | None = None,
        expected_etag: ETagCondition | None = None,
    ) -> Written:
        """Create or replace the profile owning `data`'s identities (and `key`) as a whole.

        Identities owned by two different profiles are a 409; identities the old profile had
        and `data` lacks are released.
        """
        stored_key = None
        if key is not None:
            data = with_identity(data, key)
            stored_key = identity_keys([key])[0]

        def write(batch: _Batch) -> Written:
            batch.prefetch(data.identity_pairs())
            target = batch.plan.owner.get(stored_key) if stored_key else None  # the key's profile
            pid, created = batch.plan.upsert(data, expected_etag=expected_etag, target=target)
            return Written(batch.plan.final_profile(pid), created)

        return self._writing(tenant, write)

    def patch(
        self,
        tenant: Tenant,
        key: tuple[str, str],
        patch: Any,
        *,
        expected_etag: ETagCondition | None = None,
    ) -> Written:
        """Apply a JSON merge patch (RFC 7396) to the profile of `key`; create it when absent.

        The patch applies to the profile's canonical body (`identityMap`, `attributes`,
        `segmentMembership`, `events`); plain `segments` are accepted too. `key` stays.
        """
        changes = canonical_patch(patch)
        stored_key = identity_keys([key])[0]

        def write(batch: _Batch) -> Written:
            batch.prefetch([stored_key])
            pid = batch.plan.owner.get(stored_key)
            current = batch.plan.final.get(pid) if pid else None
            base = body_of(current) if current else {"identityMap": {}}
            data = parse_profile(merge_patch(base, changes), extra_identities=[stored_key])
            batch.prefetch(data.identity_pairs())
            pid, created = batch.plan.upsert(data, expected_etag=expected_etag, target=pid)
            return Written(batch.plan.final_profile(pid), created)

        return self._writing(tenant, write)

    def delete(
        self, tenant: Tenant, key: tuple[str, str], *, expected_etag: ETagCondition | None = None
    ) -> None:
        """Delete the profile of `key` with its identities and memberships (404 when none)."""
        stored_key = identity_keys([key])[0]

        def write(batch: _Batch) -> None:
            batch.prefetch([stored_key])
            pid = batch.plan.holder(stored_key)  # a claimed identity's profile goes too
            if pid is None:
                raise no_profile(key)
            batch.plan.check_etag(pid, expected_etag)
            batch.plan.remove(pid)

        self._writing(tenant, write)

    def bulk_upsert(self, tenant: Tenant, items: Iterable[Any]) -> BulkResult:
        """Upsert many profiles (raw bodies, `ProfileData` or JSONL `Line`s), all or nothing.

        Each item replaces the profile its identities name, as `put` does, in order; an
        invalid item or an identity conflict fails the whole load, naming its line (1-based).
        """

        def write(batch: _Batch) -> BulkResult:
            created = replaced = 0
            chunk: list[tuple[int, ProfileData]] = []
            for position, item in enumerate(items, start=1):
                line, value = (
                    (item.number, item.value) if isinstance(item, Line) else (position, item)
                )
                chunk.append((line, data_of(value, line)))
                if len(chunk) >= _CHUNK:
                    c, r = _load_chunk(batch, chunk)
                    created, replaced = created + c, replaced + r
                    chunk = []
            c, r = _load_chunk(batch, chunk)
            return BulkResult(created + c, replaced + r)

        return self._writing(tenant, write)

    def append_events(
        self,
        tenant: Tenant,
        identities: Iterable[tuple[str, str]],
        events: Iterable[Mapping[str, Any]],
        *,
        create: bool = True,
        anonymous: bool = False,
        verified: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Add experience events to the profile owning any of `identities`; its id.

        `anonymous`: the identities are an anonymous Edge call's claims (those in `verified`
        excepted), which never attach to an existing profile (`MergePlan.stitch_anonymous`).

        Events without a timestamp get the clock's; the profile keeps only those within the
        window (`event_window_days`) and at most `max_events`, newest first. Identities given
        here that no profile owns are added to the profile (stitching). Without a profile,
        one is created with these identities, unless `create` is false (404).
        """
        keys = identity_keys(identities)
        if not keys:
            raise InvalidInput.at(
                "events need at least one identity", pointer="/identityMap", code="invalid-profile"
            )
        errors: list[FieldError] = []
        now = format_utc(self.clock())
        new = parse_events(list(events), "/events", errors, default_timestamp=now)
        if errors:
            raise InvalidInput.many("the events are invalid", errors, code="invalid-profile")

        def write(batch: _Batch) -> str:
            batch.prefetch(keys)
            if anonymous:
                proven = identity_keys(verified)
                claims = [k for k in keys if k not in proven]
                return batch.plan.stitch_anonymous(proven, claims, new, create=create)[0]
            return batch.plan.stitch(keys, new, create=create)[0]

        return self._writing(tenant, write)

    # -- internals ----------------------------------------------------------------------------

    def _oldest(self) -> str:
        return cutoff(self.clock(), self.event_window_days)

    def _profile(self, r: Row[Any], with_events: bool, oldest: str | None = None) -> Profile:
        events: Sequence[Mapping[str, Any]] = ()
        if with_events:
            events = tuple(within(r.events, oldest or self._oldest(), self.max_events))
        return Profile(
            r.profile_id,
            {ns: tuple(ids) for ns, ids in r.identity_map.items()},
            r.attributes,
            r.segments,
            events,
            r.etag,
            r.created,
            r.modified,
        )

    def _writing(self, tenant: Tenant, fn: Callable[[_Batch], Any]) -> Any:
        """Run `fn` in a write transaction; a concurrent writer that took an identity first
        (PostgreSQL) makes the whole write start over and then see it."""
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self.db.write() as conn:
                    pk = self.sandboxes.ensure(conn, tenant)
                    batch = _Batch(self, conn, pk)
                    result = fn(batch)
                    batch.flush()
                    return result
            except IntegrityError:
                if attempt == _WRITE_ATTEMPTS - 1:
                    raise Conflict.at(
                        "another write took one of these identities at the same time; retry",
                        pointer="/identityMap",
                        code="identity-conflict",
                    ) from None
        raise AssertionError  # pragma: no cover


def _first_owner(rows: Sequence[Row[Any]], keys: Sequence[Identity]) -> Row[Any]:
    for ns, value in keys:
        for r in rows:
            if value in r.identity_map.get(ns, ()):
                return r
    return rows[0]  # pragma: no cover - every row owns one of the keys


def _owners(
    conn: Connection, pk: int, keys: Sequence[Identity], claims: set[Identity] | None = None
) -> dict[Identity, str]:
    """Who owns each of `keys`: per namespace, chunks of ids, each an indexed IN (`claims`
    collects those held as claims)."""
    by_namespace: dict[str, list[str]] = {}
    for ns, value in keys:
        by_namespace.setdefault(ns, []).append(value)
    out: dict[Identity, str] = {}
    for ns, values in by_namespace.items():
        for start in range(0, len(values), _KEYS_PER_QUERY):
            params = {"b_pk": pk, "b_ns": ns, "b_ids": values[start : start + _KEYS_PER_QUERY]}
            for r in conn.execute(_OWNERS, params):
                out[(ns, r.identity)] = r.profile_id
                if r.claimed and claims is not None:
                    claims.add((ns, r.identity))
    return out


def _load_chunk(batch: _Batch, chunk: list[tuple[int, ProfileData]]) -> tuple[int, int]:
    batch.prefetch([k for _, data in chunk for k in data.identity_pairs()])
    created = 0
    for line, data in chunk:
        try:
            created += batch.plan.upsert(data)[1]
        except Conflict as exc:
            raise at_line(exc, line) from None
    return created, len(chunk) - created


class _Batch:
    """One write transaction's `MergePlan`, fed the rows it needs and written back at the end."""

    def __init__(self, store: ProfileStore, conn: Connection, pk: int) -> None:
        self.conn = conn
        self.pk = pk
        now = store.clock()
        self.plan = MergePlan(
            stamp=format_utc(now),
            oldest=cutoff(now, store.event_window_days),
            max_events=store.max_events,
        )
        self._profile = store._profile

    def prefetch(self, keys: Iterable[Identity]) -> None:
        """Learn who owns `keys` and load those profiles (locked on PostgreSQL)."""
        wanted = self.plan.unknown(keys)
        if not wanted:
            return
        claims: set[Identity] = set()
        missing = self.plan.learn_owners(_owners(self.conn, self.pk, wanted, claims), claims)
        for start in range(0, len(missing), _CHUNK):
            stmt = _LOAD
            if self.conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            params = {"b_pk": self.pk, "b_pids": missing[start : start + _CHUNK]}
            for r in self.conn.execute(stmt, params):
                self.plan.learn_profile(self._profile(r, True, ""))

    def flush(self) -> None:
        """Write every difference between the stored and the final states."""
        pk = self.pk
        inserts, updates, deletes = [], [], []
        id_del, id_add, seg_del, seg_add, seg_set = [], [], [], [], []
        for change in self.plan.changes():
            pid, old, new = change.profile_id, change.old, change.new
            if new is None:
                deletes.append({"b_pk": pk, "b_pid": pid})
            elif old is None:
                inserts.append(_row(pk, new))
            else:
                updates.append(_update(pk, new))
            id_del += [{"b_pk": pk, "b_ns": ns, "b_id": v} for ns, v in change.identities_removed()]
            id_add += [
                {
                    "sandbox_pk": pk,
                    "namespace": ns,
                    "identity": v,
                    "profile_id": pid,
                    "claimed": self.plan.is_claim((ns, v), pid),
                }
                for ns, v in change.identities_added()
            ]
            seg_add += [
                {"sandbox_pk": pk, "audience_id": a, "profile_id": pid, "status": status}
                for a, status in change.segments_added().items()
            ]
            seg_set += [
                {"b_pk": pk, "b_audience": a, "b_pid": pid, "status": status}
                for a, status in change.segments_changed().items()
            ]
            seg_del += [
                {"b_pk": pk, "b_audience": a, "b_pid": pid} for a in change.segments_removed()
            ]
        promoted = [  # claims the tenant's own write made firm on the same profile
            {"b_pk": pk, "b_ns": ns, "b_id": v}
            for (ns, v), pid in self.plan.promoted.items()
            if self.plan.final.get(pid) is not None
        ]
        conn = self.conn
        for stmt, rows in (
            (_PROMOTE_IDENTITY, promoted),
            (_DELETE_IDENTITY, id_del),
            (_DELETE_SEGMENT, seg_del),
            (_DELETE_PROFILE, deletes),
            (_INSERT_PROFILE, inserts),
            (_UPDATE_PROFILE, updates),
            (_INSERT_IDENTITY, id_add),
            (_INSERT_SEGMENT, seg_add),
            (_UPDATE_SEGMENT, seg_set),
        ):
            if rows:
                conn.execute(stmt, rows)


def _row(pk: int, p: Profile) -> dict[str, Any]:
    return {
        "sandbox_pk": pk,
        "profile_id": p.profile_id,
        "etag": p.etag,
        "created": p.created,
        "modified": p.modified,
        "identity_map": {ns: list(ids) for ns, ids in p.identities.items()},
        "attributes": p.attributes,
        "segments": p.segments,
        "events": list(p.events),
    }


def _update(pk: int, p: Profile) -> dict[str, Any]:
    return {
        "b_pk": pk,
        "b_pid": p.profile_id,
        "etag": p.etag,
        "modified": p.modified,
        "identity_map": {ns: list(ids) for ns, ids in p.identities.items()},
        "attributes": p.attributes,
        "segments": p.segments,
        "events": list(p.events),
    }
