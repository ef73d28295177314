"""The profile store: profiles found by any identity, written whole, merge-patched or in bulk.

Reads are one indexed query (the identity index joined to the profile row; with events, a
correlated subquery that aggregates the newest events of the window into one JSON array) and
cache nothing. Every write is one transaction that reads the profiles it touches into a
`MergePlan` (`profiles.merge`: the identity-merge rules, pure), then writes the differences it
planned: the profile rows, the identity and audience index rows that were added, changed or
removed, and the events rows added (or replaced). A failure anywhere rolls the whole write back.

Events are rows of their own (`profile_events`): keeping an event inserts it and deletes, by one
indexed range, what retention drops (older than the window, beyond the most a profile keeps,
beyond its byte budget); nothing rewrites a profile's list.

A bulk load is checked whole before its first write, then applied in short steps (see
`bulk_upsert`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Row,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from nextoffer.errors import Conflict, FieldError, InvalidInput, NextofferError
from nextoffer.jsonlines import Line
from nextoffer.profiles.documents import (
    Identity,
    ProfileData,
    body_of,
    canonical_patch,
    parse_events,
    parse_profile,
)
from nextoffer.profiles.events import (
    DEFAULT_BUDGET_BYTES,
    check_events,
    cutoff,
    encoded,
    within_budget,
)
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
from nextoffer.store.profile_tables import profile_events as ev
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

STEP_SECONDS = 0.05
"""What one step of a bulk load aims to hold the writer for (well under the ~100 ms bound)."""
_FIRST_STEP = 16
_MAX_STEP = 2000


class events_array(FunctionElement[str]):
    """`'[' || <the events, comma-separated, newest first> || ']'`: the JSON array of a
    profile's recent events, built from their stored JSON texts without parsing them.
    PostgreSQL orders the aggregate itself; SQLite (no ordered aggregates before 3.44)
    concatenates in the order of the ordered, limited subquery it reads."""

    type = Text()
    name = "events_array"
    inherit_cache = True


@compiles(events_array)
def _events_array(element: events_array, compiler: SQLCompiler, **kw: Any) -> str:
    event = next(iter(element.clauses))
    return f"'[' || group_concat({compiler.process(event, **kw)}, ',') || ']'"


@compiles(events_array, "postgresql")
def _events_array_pg(element: events_array, compiler: SQLCompiler, **kw: Any) -> str:
    event, stamp, seq = (compiler.process(c, **kw) for c in element.clauses)
    return f"'[' || string_agg({event}, ',' ORDER BY {stamp} DESC, {seq} DESC) || ']'"


_NEWEST = (ev.c.timestamp.desc(), ev.c.seq.desc())
_OF_PROFILE = (ev.c.sandbox_pk == tbl.c.sandbox_pk, ev.c.profile_id == tbl.c.profile_id)
_RECENT = (
    select(ev.c.event, ev.c.timestamp, ev.c.seq)
    .where(*_OF_PROFILE, ev.c.timestamp >= bindparam("b_oldest"))
    .order_by(*_NEWEST)
    .limit(bindparam("b_max"))
    .correlate(tbl)
    .subquery("recent")
)
_EVENTS = (
    select(events_array(_RECENT.c.event, _RECENT.c.timestamp, _RECENT.c.seq))
    .scalar_subquery()
    .label("events")
)
"""A profile's events within the window, at most `b_max`, newest first, as one JSON text (NULL
when none): one range scan of `ix_profile_events_recent` per profile row."""

_BASE = (
    tbl.c.profile_id,
    tbl.c.etag,
    tbl.c.created,
    tbl.c.modified,
    tbl.c.identity_map,
    tbl.c.attributes,
    tbl.c.segments,
)
_FULL = (*_BASE, _EVENTS)


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
_LOAD = select(*_BASE).where(
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
_EVENTS_OF = (ev.c.sandbox_pk == bindparam("b_pk"), ev.c.profile_id == bindparam("b_pid"))
_INSERT_EVENT = insert(ev)
_DELETE_EVENTS = delete(ev).where(*_EVENTS_OF)
_RANKED = (
    select(
        ev.c.timestamp,
        ev.c.seq,
        func.row_number().over(order_by=_NEWEST).label("position"),
        func.sum(ev.c.size).over(order_by=_NEWEST).label("running"),
    )
    .where(*_EVENTS_OF)
    .subquery("ranked")
)
_FIRST_DROPPED = (
    select(_RANKED.c.timestamp, _RANKED.c.seq)
    .where(
        or_(
            _RANKED.c.position > bindparam("b_max"),
            _RANKED.c.running > bindparam("b_budget"),
            _RANKED.c.timestamp < bindparam("b_oldest"),
        )
    )
    .order_by(_RANKED.c.timestamp.desc(), _RANKED.c.seq.desc())
    .limit(1)
)
"""The newest of a profile's events that retention drops (beyond the most kept, beyond the
byte budget counting from the newest, or older than the window), if any: window functions over
the covering index, one row back."""
_RETENTION = select(
    func.count(), func.coalesce(func.sum(ev.c.size), 0), func.min(ev.c.timestamp)
).where(*_EVENTS_OF)
"""How many events a profile holds, their bytes and the oldest time: an aggregate over the
covering index, so the common append (nothing to drop) costs one cheap query."""
_AFTER_THE_MOST = (
    select(ev.c.timestamp, ev.c.seq)
    .where(*_EVENTS_OF)
    .order_by(*_NEWEST)
    .limit(1)
    .offset(bindparam("b_max"))
)
"""The newest event beyond the most a profile keeps (a profile at its limit gets one more)."""
_DROP_FROM = delete(ev).where(
    *_EVENTS_OF,
    ev.c.timestamp <= bindparam("b_ts"),
    or_(ev.c.timestamp < bindparam("b_ts"), ev.c.seq <= bindparam("b_seq")),
)
"""A profile's events from one (`b_ts`, `b_seq`) on, older ones included: retention's cut."""
_READ_EVENTS = (
    select(ev.c.event)
    .where(*_EVENTS_OF, ev.c.timestamp >= bindparam("b_oldest"))
    .order_by(*_NEWEST)
    .limit(bindparam("b_max"))
)


class ProfileStore:
    """Profiles of every sandbox, in the library's database."""

    def __init__(
        self,
        db: Database,
        *,
        event_window_days: int = 30,
        max_events: int = 1000,
        event_budget_bytes: int = DEFAULT_BUDGET_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.event_window_days = event_window_days
        self.max_events = max_events
        self.event_budget_bytes = event_budget_bytes
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
        window = self._window() if with_events else {}
        with self.db.read() as conn:
            if len(keys) <= _MAX_FIND_KEYS:
                stmt = _find_statement(len(keys), with_events)
                rows = conn.execute(stmt, {**_find_params(pk, keys), **window}).all()
            else:
                owners = _owners(conn, pk, keys)
                pid = next((owners[k] for k in keys if k in owners), None)
                params = {"b_pk": pk, "b_pid": pid, **window}
                rows = conn.execute(_BY_ID[with_events], params).all() if pid else []
        if not rows:
            return None
        row = rows[0] if len(rows) == 1 else _first_owner(rows, keys)
        return _profile(row, with_events)

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
        params = {"b_pk": pk, "b_pid": profile_id, **(self._window() if with_events else {})}
        with self.db.read() as conn:
            row = conn.execute(_BY_ID[with_events], params).first()
        return _profile(row, with_events) if row else None

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
        if with_events:
            params.update(self._window())  # one window for the whole run
        if audience is None:
            stmt = _PAGE[with_events]
        else:
            stmt = _AUDIENCE_PAGE[with_events]
            params.update(b_audience=audience, b_statuses=list(statuses))
        while True:
            with self.db.read() as conn:
                rows = conn.execute(stmt, {**params, "b_after": after}).all()
            if not rows:
                return
            yield [_profile(r, with_events) for r in rows]
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
        and `data` lacks are released; `data`'s events replace the stored ones.
        """
        check_events(data.events, "/events", self.clock())
        stored_key = None
        if key is not None:
            data = with_identity(data, key)
            stored_key = identity_keys([key])[0]

        def write(batch: _Batch) -> str:
            batch.prefetch(data.identity_pairs())
            target = batch.plan.owner.get(stored_key) if stored_key else None  # the key's profile
            return batch.plan.upsert(data, expected_etag=expected_etag, target=target)[0]

        return self._written(tenant, write)

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
        `segmentMembership`, `events`); plain `segments` are accepted too. `key` stays. A
        patch naming `events` replaces them (arrays are replaced whole); one that does not
        leaves them as they are, unread.
        """
        changes = canonical_patch(patch)
        stored_key = identity_keys([key])[0]
        keep_events = "events" not in changes
        now = self.clock()

        def write(batch: _Batch) -> str:
            batch.prefetch([stored_key])
            pid = batch.plan.owner.get(stored_key)
            current = batch.plan.final.get(pid) if pid else None
            base = body_of(current) if current else {"identityMap": {}}
            data = parse_profile(merge_patch(base, changes), extra_identities=[stored_key])
            if not keep_events:
                check_events(data.events, "/events", now)
            batch.prefetch(data.identity_pairs())
            return batch.plan.upsert(
                data, expected_etag=expected_etag, target=pid, keep_events=keep_events
            )[0]

        return self._written(tenant, write)

    def delete(
        self, tenant: Tenant, key: tuple[str, str], *, expected_etag: ETagCondition | None = None
    ) -> None:
        """Delete the profile of `key` with its identities, memberships and events (404 when
        none)."""
        stored_key = identity_keys([key])[0]

        def write(batch: _Batch) -> None:
            batch.prefetch([stored_key])
            pid = batch.plan.holder(stored_key)  # a claimed identity's profile goes too
            if pid is None:
                raise no_profile(key)
            batch.plan.check_etag(pid, expected_etag)
            batch.plan.remove(pid)

        self._writing(tenant, write)

    def bulk_upsert(
        self,
        tenant: Tenant,
        items: Iterable[Any] | Callable[[], Iterable[Any]],
        *,
        on_step: Callable[[int], None] | None = None,
    ) -> BulkResult:
        """Upsert many profiles (raw bodies, `ProfileData` or JSONL `Line`s), all or nothing.

        Each item replaces the profile its identities name, as `put` does, in order. `items`
        is read twice, so give a list or a callable that returns a fresh iterator (a one-shot
        iterator is kept in memory).

        1. The check: every item is validated and planned against the stored profiles, read
           in short read transactions; nothing is written, the writer is not taken. An invalid
           item or an identity conflict fails the whole load here, naming its line (1-based),
           with nothing written.
        2. The apply: the items are written in steps, each its own short write transaction
           (sized to hold the writer ~`STEP_SECONDS`), so other writers get in between;
           `on_step` is called after each with the number of items written so far.

        A step can still fail after a clean check only when another writer took one of its
        identities in between, the database stayed busy, or the server stopped: the items
        before it stay written and the error says how many (`applied`). A load is idempotent
        (each item replaces the profile it names), so sending it again finishes it. Holding
        the writer for the whole load instead froze every other write for seconds (issue 15).
        """
        source = _replayable(items)
        self._check_load(tenant, source())
        return self._apply_load(tenant, source(), on_step)

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
        window (`event_window_days`), at most `max_events` and `event_budget_bytes`, newest
        first: the events are inserted and the rest deleted by one indexed range, the stored
        ones never read. Identities given here that no profile owns are added to the profile
        (stitching). Without a profile, one is created with these identities, unless
        `create` is false (404).
        """
        keys = identity_keys(identities)
        if not keys:
            raise InvalidInput.at(
                "events need at least one identity", pointer="/identityMap", code="invalid-profile"
            )
        errors: list[FieldError] = []
        now = self.clock()
        new = parse_events(list(events), "/events", errors, default_timestamp=format_utc(now))
        if errors:
            raise InvalidInput.many("the events are invalid", errors, code="invalid-profile")
        check_events(new, "/events", now)

        def write(batch: _Batch) -> str:
            batch.prefetch(keys)
            if anonymous:
                proven = identity_keys(verified)
                claims = [k for k in keys if k not in proven]
                return batch.plan.stitch_anonymous(proven, claims, new, create=create)[0]
            return batch.plan.stitch(keys, new, create=create)[0]

        return self._writing(tenant, write)

    # -- internals ----------------------------------------------------------------------------

    def _window(self) -> dict[str, Any]:
        """The read parameters of a profile's events: the window's start and the most kept."""
        return {
            "b_oldest": cutoff(self.clock(), self.event_window_days),
            "b_max": self.max_events,
        }

    def _written(self, tenant: Tenant, fn: Callable[[_Batch], str]) -> Written:
        """Run a write of one profile and answer it as stored, its events read back (one
        indexed query, in the write's transaction)."""

        def write(batch: _Batch) -> Written:
            pid = fn(batch)
            created = batch.plan.stored.get(pid) is None
            profile = batch.plan.final_profile(pid)
            batch.flush()
            params = {"b_pk": batch.pk, "b_pid": pid, **self._window()}
            events = [orjson.loads(r.event) for r in batch.conn.execute(_READ_EVENTS, params)]
            return Written(dataclasses.replace(profile, events=tuple(events)), created)

        return self._writing(tenant, write)

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

    def _check_load(self, tenant: Tenant, items: Iterable[Any]) -> None:
        """A bulk load's first pass: validate and plan every item against the stored profiles,
        writing nothing. The plan keeps identities only (bodies are dropped after each chunk)."""
        pk = self.sandboxes.find(tenant)
        batch = _Batch(self, None, pk or 0, lock=False)
        now = self.clock()
        for chunk in _chunks(_numbered(items), _CHUNK):
            parsed = [(line, _checked(value, line, now)) for line, value in chunk]
            if pk is not None:
                with self.db.read() as conn:
                    batch.conn = conn
                    batch.prefetch([k for _, data in parsed for k in data.identity_pairs()])
                batch.conn = None
            _plan_chunk(batch, parsed)
            batch.plan.forget_bodies()

    def _apply_load(
        self, tenant: Tenant, items: Iterable[Any], on_step: Callable[[int], None] | None
    ) -> BulkResult:
        """A bulk load's second pass: write the checked items in short steps."""
        created = replaced = 0
        step = _FIRST_STEP
        numbered = _numbered(items)
        now = self.clock()
        while chunk := _take(numbered, step):
            parsed = [(line, _checked(value, line, now)) for line, value in chunk]

            def write(batch: _Batch, parsed: list[tuple[int, ProfileData]] = parsed) -> int:
                batch.prefetch([k for _, data in parsed for k in data.identity_pairs()])
                return _plan_chunk(batch, parsed)

            started = time.perf_counter()
            try:
                c = self._writing(tenant, write)
            except NextofferError as exc:  # an identity taken meanwhile, a busy database
                raise _partly_applied(exc, created + replaced) from None
            elapsed = time.perf_counter() - started
            created, replaced = created + c, replaced + len(chunk) - c
            if on_step is not None:
                on_step(created + replaced)
            step = _next_step(step, elapsed)
        return BulkResult(created, replaced)


def _partly_applied(exc: NextofferError, applied: int) -> NextofferError:
    """A step's error after a clean check (another writer took an identity meanwhile, the
    database was busy): say what stays written and how to finish."""
    detail = (
        f"{exc.detail} (the load was checked whole; the {applied} items before this step are "
        "written: send the load again to finish it)"
    )
    return dataclasses.replace(exc, detail=detail, extra={**exc.extra, "applied": applied})


def _replayable(items: Iterable[Any] | Callable[[], Iterable[Any]]) -> Callable[[], Iterable[Any]]:
    if callable(items):
        return items
    if iter(items) is items:  # a one-shot iterator: keep what it gives
        kept = list(items)
        return lambda: kept
    return lambda: items  # type: ignore[return-value]


def _numbered(items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """(line, value): a JSONL `Line`'s own number, else the 1-based position."""
    for position, item in enumerate(items, start=1):
        yield (item.number, item.value) if isinstance(item, Line) else (position, item)


def _take(items: Iterator[tuple[int, Any]], n: int) -> list[tuple[int, Any]]:
    out = []
    for pair in items:
        out.append(pair)
        if len(out) >= n:
            break
    return out


def _chunks(items: Iterator[tuple[int, Any]], n: int) -> Iterator[list[tuple[int, Any]]]:
    while chunk := _take(items, n):
        yield chunk


def _next_step(step: int, elapsed: float) -> int:
    """The next step's size: aimed at `STEP_SECONDS` of writing, at most doubling."""
    aimed = int(step * STEP_SECONDS / max(elapsed, 1e-4))
    return max(1, min(_MAX_STEP, 2 * step, aimed))


def _checked(value: Any, line: int, now: datetime) -> ProfileData:
    """One bulk item, validated, its events checked (an error names the line)."""
    data = data_of(value, line)
    try:
        check_events(data.events, "/events", now)
    except NextofferError as exc:
        raise at_line(exc, line) from None
    return data


def _plan_chunk(batch: _Batch, chunk: list[tuple[int, ProfileData]]) -> int:
    """Plan each item's upsert (the owners of its identities looked up); how many created."""
    created = 0
    for line, data in chunk:
        try:
            created += batch.plan.upsert(data)[1]
        except Conflict as exc:
            raise at_line(exc, line) from None
    return created


def _profile(r: Row[Any], with_events: bool) -> Profile:
    events: Sequence[Mapping[str, Any]] = ()
    if with_events and r.events:
        events = tuple(orjson.loads(r.events))
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


class _Batch:
    """One write transaction's `MergePlan`, fed the rows it needs and written back at the end
    (a bulk load's check feeds one plan through several read transactions, `conn` changing)."""

    def __init__(
        self, store: ProfileStore, conn: Connection | None, pk: int, *, lock: bool = True
    ) -> None:
        self.conn = conn
        self.pk = pk
        self.lock = lock
        now = store.clock()
        self.oldest = cutoff(now, store.event_window_days)
        self.max_events = store.max_events
        self.budget = store.event_budget_bytes
        self.plan = MergePlan(stamp=format_utc(now), oldest=self.oldest, max_events=self.max_events)

    def prefetch(self, keys: Iterable[Identity]) -> None:
        """Learn who owns `keys` and load those profiles (locked on PostgreSQL when writing)."""
        wanted = self.plan.unknown(keys)
        if not wanted:
            return
        conn = self.conn
        assert conn is not None
        claims: set[Identity] = set()
        missing = self.plan.learn_owners(_owners(conn, self.pk, wanted, claims), claims)
        for start in range(0, len(missing), _CHUNK):
            stmt = _LOAD
            if self.lock and conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            params = {"b_pk": self.pk, "b_pids": missing[start : start + _CHUNK]}
            for r in conn.execute(stmt, params):
                self.plan.learn_profile(_profile(r, False))

    def flush(self) -> None:
        """Write every difference between the stored and the final states."""
        pk = self.pk
        inserts, updates, deletes = [], [], []
        id_del, id_add, seg_del, seg_add, seg_set = [], [], [], [], []
        events_del, events_add, trims = [], [], []
        for change in self.plan.changes():
            pid, old, new = change.profile_id, change.old, change.new
            if new is None:
                deletes.append({"b_pk": pk, "b_pid": pid})
                events_del.append({"b_pk": pk, "b_pid": pid})
            elif old is None:
                inserts.append(_row(pk, new))
            else:
                updates.append(_update(pk, new))
            if change.events is not None:
                if change.events.replace and old is not None:
                    events_del.append({"b_pk": pk, "b_pid": pid})
                elif old is not None:
                    trims.append(pid)
                events_add += self._event_rows(pid, change.events.added)
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
        assert conn is not None
        for stmt, rows in (
            (_PROMOTE_IDENTITY, promoted),
            (_DELETE_IDENTITY, id_del),
            (_DELETE_SEGMENT, seg_del),
            (_DELETE_EVENTS, events_del),
            (_DELETE_PROFILE, deletes),
            (_INSERT_PROFILE, inserts),
            (_UPDATE_PROFILE, updates),
            (_INSERT_IDENTITY, id_add),
            (_INSERT_SEGMENT, seg_add),
            (_UPDATE_SEGMENT, seg_set),
            (_INSERT_EVENT, events_add),
        ):
            if rows:
                conn.execute(stmt, rows)
        for pid in trims:
            self._retain(pid)
        self.plan.written()

    def _event_rows(self, pid: str, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Rows for `events` (newest first) that retention keeps, oldest first: each row's
        `seq` is larger than the last, so later rows come first among equal timestamps."""
        kept = within_budget(
            [(e, encoded(e)) for e in events], self.oldest, self.max_events, self.budget
        )
        return [
            {
                "sandbox_pk": self.pk,
                "profile_id": pid,
                "timestamp": e["timestamp"],
                "size": len(raw),
                "event": raw.decode(),
            }
            for e, raw in reversed(kept)
        ]

    def _retain(self, pid: str) -> None:
        """After events were added to a stored profile: delete, from the first event that
        retention drops (older than the window, beyond the most kept or the byte budget),
        that event and every older one: one query to find it, one range delete."""
        conn = self.conn
        assert conn is not None
        params = {
            "b_pk": self.pk,
            "b_pid": pid,
            "b_max": self.max_events,
            "b_budget": self.budget,
            "b_oldest": self.oldest,
        }
        count, total, oldest = conn.execute(_RETENTION, params).one()
        within_time_and_bytes = total <= self.budget and (oldest or "") >= self.oldest
        if within_time_and_bytes and count <= self.max_events:
            return
        stmt = _AFTER_THE_MOST if within_time_and_bytes else _FIRST_DROPPED
        first = conn.execute(stmt, params).first()
        if first is not None:
            cut = {"b_pk": self.pk, "b_pid": pid, "b_ts": first.timestamp, "b_seq": first.seq}
            conn.execute(_DROP_FROM, cut)


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
    }
