"""Decision events: one row per decided scope, written in batches off the decision path.

`record` only appends to an in-memory buffer; a background thread hands the buffer to the
writer (`decision_event_writers.py`: by default a child process) every `flush_interval` seconds
(sooner when `batch_size` events wait), and `close` writes what is left. Reads (`get`, `query`)
see the buffer too, events in flight included, so a client can act on a proposition (display,
click) before its event reaches the database. Events feed capping and reporting.

With a `spool` (the durable mode, `decision_event_spool.py`) `record` also appends the events
to this process's spool and returns once they are on disk; the segments are deleted once
their events are written, and those a dead process left are replayed when the log is built.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, or_, select

from nextoffer.records.decision_events import (
    DecisionEvent,
    EventFilter,
    EventPage,
    decode_cursor,
    encode_cursor,
)
from nextoffer.store.database import Database
from nextoffer.store.decision_event_spool import Spool, encode_record, replay_spool
from nextoffer.store.decision_event_tables import (
    EventRow,
    decision_event_offers,
    decision_events,
    write_rows,
)
from nextoffer.store.decision_event_writers import EventWriter, open_writer
from nextoffer.store.sandbox_ids import SandboxIds
from nextoffer.telemetry import NO_TELEMETRY, Telemetry
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, parse_rfc3339

log = logging.getLogger("nextoffer.decision_events")

ev = decision_events
_COLUMNS = (
    ev.c.proposition_id,
    ev.c.timestamp,
    ev.c.profile_id,
    ev.c.identity_namespace,
    ev.c.identity,
    ev.c.activity_id,
    ev.c.placement_id,
    ev.c.offers,
    ev.c.fallback_id,
    ev.c.request_id,
)
_GET = select(*_COLUMNS).where(
    ev.c.sandbox_pk == bindparam("b_pk"),
    ev.c.proposition_id.in_(bindparam("b_ids", expanding=True)),
)


def _event(r: Any) -> DecisionEvent:
    identity = (r.identity_namespace, r.identity) if r.identity_namespace is not None else None
    return DecisionEvent(
        r.proposition_id,
        parse_rfc3339(r.timestamp),
        r.profile_id,
        identity,
        r.activity_id,
        r.placement_id,
        [tuple(o) for o in r.offers],  # type: ignore[misc]
        r.fallback_id,
        r.request_id,
    )


def _identity(identity: tuple[str, str] | None) -> tuple[str | None, str | None]:
    if identity is None:
        return None, None
    return identity[0].lower(), identity[1]


def _row(tenant: Tenant, e: DecisionEvent) -> EventRow:
    namespace, identity = _identity(e.identity)
    return (
        tenant.org,
        tenant.sandbox,
        e.proposition_id,
        format_utc(e.timestamp),
        e.profile_id,
        namespace,
        identity,
        e.activity_id,
        e.placement_id,
        e.offers,
        e.fallback_id,
        e.request_id,
    )


class DecisionEventLog:
    """Buffered, batched decision events of every sandbox, in the library's database."""

    def __init__(
        self,
        db: Database,
        *,
        writer: str = "process",
        flush_interval: float = 0.2,
        batch_size: int = 500,
        max_pending: int = 200_000,
        spool: Spool | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self.db = db
        self.telemetry = telemetry
        self.writer: EventWriter = open_writer(db, writer)
        self.spool = spool
        """Durable mode: every recorded event is on local disk before `record` returns."""
        self._spool_lost = False
        """Events were dropped from the buffer unwritten: keep the spool's segments."""
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.sandboxes = SandboxIds(db)
        self._pending: list[tuple[Tenant, DecisionEvent]] = []
        self._inflight: list[tuple[Tenant, DecisionEvent]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        """Events dropped because the database was unreachable while the buffer was full."""
        self.refused = 0
        """Events the database refused (logged by the writer, which went on with the rest)."""
        if spool is not None:
            self.replay()

    def replay(self) -> int:
        """Write the events that processes which died left in the spool; how many. A failure
        is logged and leaves them for the next start."""
        if self.spool is None:
            return 0
        try:
            return replay_spool(self.spool.directory, self._write_now)
        except Exception as exc:  # one line: a CLI command on a database that is away
            self.telemetry.dependency_error("database")
            log.error(
                "replaying the decision-event spool %s failed (%s); it is kept for the next start",
                self.spool.directory,
                " ".join(str(exc).split())[:300],
            )
            return 0

    def _write_now(self, rows: Sequence[EventRow]) -> int:
        return write_rows(self.db, self.sandboxes, rows)

    # -- the hot path -------------------------------------------------------------------------

    def record(self, tenant: Tenant, events: Sequence[DecisionEvent]) -> None:
        """Buffer events for the background writer; never waits for the database. With a
        spool, returns once they are on local disk (a group sync: call it off the event loop).
        """
        if not events:
            return
        spool = self.spool
        record = encode_record([_row(tenant, e) for e in events]) if spool is not None else b""
        group = None
        with self._lock:
            self._pending.extend((tenant, e) for e in events)
            if spool is not None:  # under the buffer's lock: a flush retires what it takes
                group = spool.append(record)
            excess = len(self._pending) - self.max_pending
            if excess > 0:
                del self._pending[:excess]
                self.dropped += excess
                self._spool_lost = spool is not None
                self.telemetry.events_refused(excess)
                log.error("decision event buffer full: dropped the %d oldest events", excess)
            full = len(self._pending) >= self.batch_size
            if self._thread is None:
                self._start()
        if full:
            self._wake.set()
        if spool is not None and group is not None:
            spool.wait(group)

    def _start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="nextoffer-decision-events", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the next round retries; the events stay in the buffer
                self.telemetry.dependency_error("database")
                log.exception("writing decision events failed; retrying")
                self._stop.wait(self.flush_interval)

    # -- writing ------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every buffered event now; how many. On failure they stay buffered."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
                self._inflight = batch
                if self.spool is not None:
                    self.spool.retire()  # its segments hold the batch's events, or older
            self.telemetry.event_buffer(len(batch))  # what waited, the buffer's depth now
            if not batch:
                self._spooled_written()
                return 0
            refused = 0
            try:
                with self.telemetry.span("nextoffer.decision_events.write") as span:
                    span.set_attribute("nextoffer.events", len(batch))
                    for start in range(0, len(batch), 5000):
                        rows = [_row(t, e) for t, e in batch[start : start + 5000]]
                        refused += self.writer.write(rows)
                    span.set_attribute("nextoffer.events.refused", refused)
            except BaseException:
                with self._lock:
                    self._pending = batch + self._pending
                    depth = len(self._pending)
                self.telemetry.event_buffer(depth)  # still waiting, and growing
                raise
            finally:
                with self._lock:
                    self._inflight = []
                    depth = len(self._pending)
                self.refused += refused
            self._spooled_written()
            self._report(batch, refused, depth)
            return len(batch)

    def _spooled_written(self) -> None:
        """Every retired spool segment's events are in the database now: delete them (or,
        when some were dropped unwritten, leave them to the next start's replay)."""
        if self.spool is not None:
            keep, self._spool_lost = self._spool_lost, False
            self.spool.delete_retired(keep=keep)

    def _report(self, batch: list[tuple[Tenant, DecisionEvent]], refused: int, depth: int) -> None:
        """Telemetry of a written batch: its size, how long its oldest event waited, the rows
        refused, and what the buffer holds now."""
        telemetry = self.telemetry
        if telemetry.metrics:
            lag = max(0.0, time.time() - batch[0][1].timestamp.timestamp())
            telemetry.events_written(len(batch) - refused, lag)
            if refused:
                telemetry.events_refused(refused)
            telemetry.event_buffer(depth)

    def close(self) -> None:
        """Stop the writer thread and write what is left (a later `record` starts it again)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join()
        try:
            self.flush()
        finally:
            self.writer.close()  # the flush deleted the spool's segments it wrote

    # -- reading ------------------------------------------------------------------------------

    def _buffered(self, tenant: Tenant) -> list[DecisionEvent]:
        with self._lock:
            both = self._inflight + self._pending
        return [e for t, e in both if t == tenant]

    def get(self, tenant: Tenant, proposition_ids: Iterable[str]) -> dict[str, DecisionEvent]:
        """The known events among `proposition_ids`, buffered ones included."""
        wanted = set(proposition_ids)
        out = {e.proposition_id: e for e in self._buffered(tenant) if e.proposition_id in wanted}
        missing = sorted(wanted - out.keys())
        pk = self.sandboxes.find(tenant) if missing else None
        if pk is not None:
            with self.db.read() as conn:
                for start in range(0, len(missing), 500):
                    params = {"b_pk": pk, "b_ids": missing[start : start + 500]}
                    out.update((r.proposition_id, _event(r)) for r in conn.execute(_GET, params))
        return out

    def query(
        self,
        tenant: Tenant,
        filters: EventFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EventPage:
        """Events newest first (ties by proposition id), `limit` per page, keyset cursors.

        Buffered events of this process are written first, so a client reads its own decisions.
        """
        self.flush()
        f = filters or EventFilter()
        pk = self.sandboxes.find(tenant)
        if pk is None:
            return EventPage([], None)
        where: list[Any] = [ev.c.sandbox_pk == pk]
        if f.profile_id is not None:
            where.append(ev.c.profile_id == f.profile_id)
        if f.identity is not None:
            namespace, identity = _identity(f.identity)
            where += [ev.c.identity_namespace == namespace, ev.c.identity == identity]
        if f.activity_id is not None:
            where.append(ev.c.activity_id == f.activity_id)
        if f.placement_id is not None:
            where.append(ev.c.placement_id == f.placement_id)
        if f.since is not None:
            where.append(ev.c.timestamp >= format_utc(f.since))
        if f.until is not None:
            where.append(ev.c.timestamp < format_utc(f.until))
        if f.offer_id is not None:
            offers = decision_event_offers
            where.append(
                ev.c.proposition_id.in_(
                    select(offers.c.proposition_id).where(
                        offers.c.sandbox_pk == pk, offers.c.offer_id == f.offer_id
                    )
                )
            )
        if cursor is not None:
            stamp, pid = decode_cursor(cursor)
            where.append(
                or_(
                    ev.c.timestamp < stamp, and_(ev.c.timestamp == stamp, ev.c.proposition_id < pid)
                )
            )
        stmt = (
            select(*_COLUMNS)
            .where(*where)
            .order_by(ev.c.timestamp.desc(), ev.c.proposition_id.desc())
            .limit(limit + 1)
        )
        with self.db.read() as conn:
            items = [_event(r) for r in conn.execute(stmt)]
        more = len(items) > limit
        items = items[:limit]
        return EventPage(items, encode_cursor(items[-1]) if more else None)
