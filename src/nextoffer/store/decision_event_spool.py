"""The durable mode's spool: decision events on local disk, fsync'ed before a decision answers.

In the buffered mode (the default) an event waits up to the flush interval in memory; a
`kill -9` loses it while the capping counters already counted its offers. In the durable mode
(`NEXTOFFER_DECISION_EVENTS=durable`) `DecisionEventLog.record` also appends the events to a
segment file of this process and waits until they are on disk: group commit, one
`fdatasync` for every decision that arrived while the previous one ran, so a decision waits
at most for the sync in progress and its own (whoever the other decisions are for). It waits
in the request's worker thread, never on the event loop.

Segments: each process writes its own (`<pid>-<random>.spool`), holding an exclusive `flock`
on it for as long as it lives. When the buffered events are in the database the segments that
held them are deleted (`retire`, then `delete_retired` after the write). A process that dies
leaves its segments unlocked; the next process started on the same spool directory
(`replay_spool`, at start-up) writes their events to the database and deletes them. Rows are
inserted with ON CONFLICT DO NOTHING and events carry their proposition ids, so an event both
written and replayed, or replayed twice, is stored once.

A record is a 4-byte big-endian length, the CRC-32 of the body, and the body (JSON: a list of
`EventRow`s). A record cut short by a crash (a torn write: only the last one can be) or whose
checksum fails is skipped with a warning; the others are replayed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from nextoffer.errors import DependencyUnavailable
from nextoffer.store.decision_event_tables import EventRow
from nextoffer.telemetry import NO_TELEMETRY, Telemetry

log = logging.getLogger("nextoffer.decision_events")

SUFFIX = ".spool"
DEPENDENCY = "decision-event spool"
"""How a `dependency-unavailable` problem names the spool when a sync fails."""
_HEAD = 8


def _flock(fd: int, *, wait: bool) -> bool:
    import fcntl  # POSIX only: the durable mode is refused elsewhere (`Settings`)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _sync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_record(rows: Sequence[EventRow]) -> bytes:
    body = orjson.dumps(list(rows))
    return len(body).to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big") + body


def read_records(data: bytes, name: str = "spool") -> Iterator[list[EventRow]]:
    """The intact records of a segment's bytes, in order; a bad one is skipped with a warning
    (a truncated one ends the segment: nothing after it can be framed)."""
    at = 0
    while at < len(data):
        if len(data) - at < _HEAD:
            log.warning("%s: a torn record (%d bytes) at its end skipped", name, len(data) - at)
            return
        size = int.from_bytes(data[at : at + 4], "big")
        crc = int.from_bytes(data[at + 4 : at + 8], "big")
        body = data[at + _HEAD : at + _HEAD + size]
        if len(body) < size:
            log.warning(
                "%s: a torn record at its end skipped (%d of %d bytes)", name, len(body), size
            )
            return
        at += _HEAD + size
        if zlib.crc32(body) != crc:
            log.warning("%s: a record with a bad checksum skipped (%d bytes)", name, size)
            continue
        try:
            rows = orjson.loads(body)
        except orjson.JSONDecodeError:
            log.warning("%s: a record that is not JSON skipped (%d bytes)", name, size)
            continue
        yield rows


@dataclass
class _Segment:
    path: Path
    fd: int

    def close(self, *, delete: bool) -> None:
        if delete:
            self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(self.fd)  # releases the lock: a kept segment is replayed by a later start


@dataclass
class _Group:
    """Records that share one sync; their writers wait for `done`."""

    records: list[bytes] = field(default_factory=list)
    done: bool = False
    error: Exception | None = None


class Spool:
    """This process's append-only segments in `directory`, synced in groups."""

    def __init__(self, directory: str | Path, telemetry: Telemetry = NO_TELEMETRY) -> None:
        self.directory = Path(directory)
        self.telemetry = telemetry
        self.directory.mkdir(parents=True, exist_ok=True)
        self.syncs = 0
        """Syncs made (each covers a group of records)."""
        self._cond = threading.Condition(threading.Lock())
        self._open = _Group()
        self._syncing = False
        self._io = threading.Lock()
        """Held while a group is written and synced, and while segments are closed."""
        self._segment: _Segment | None = None
        self._broken: list[_Segment] = []
        """Segments left after a failed sync, with events that may not be written yet."""
        self._retired: list[_Segment] = []

    def append(self, record: bytes) -> _Group:
        """Queue a record (`encode_record`) for the next sync; `wait` on what this returns
        before answering."""
        with self._cond:
            group = self._open
            group.records.append(record)
            return group

    def wait(self, group: _Group) -> None:
        """Return once the group's records are on disk: the first waiter of a group writes
        and syncs it, the others wait for that; a failed sync is a 503 for all of them."""
        with self._cond:
            while not group.done:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                taken, self._open = self._open, _Group()
                self._cond.release()
                try:
                    error = self._write(taken.records)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    taken.done, taken.error = True, error
                    self._cond.notify_all()
        if group.error is not None:
            raise DependencyUnavailable.of(DEPENDENCY, str(group.error))

    def write(self, rows: Sequence[EventRow]) -> None:
        """Append one record of `rows` and wait until it is on disk."""
        self.wait(self.append(encode_record(rows)))

    def _write(self, records: list[bytes]) -> Exception | None:
        with self._io:
            began = time.perf_counter()
            try:
                segment = self._segment or self._new_segment()
                os.write(segment.fd, b"".join(records))
                _sync(segment.fd)
            except Exception as exc:  # every waiter of the group must hear of it
                log.error("the decision-event spool could not sync: %s", exc)
                with self._cond:  # its state is unknown: later groups go to a new segment
                    broken, self._segment = self._segment, None
                    if broken is not None:
                        self._broken.append(broken)
                return exc
            self.syncs += 1
            self.telemetry.events_synced(time.perf_counter() - began, len(records))
            return None

    def _new_segment(self) -> _Segment:
        """A locked segment, created under a name replay ignores and renamed once locked (a
        starting process never takes a segment whose writer has yet to lock it)."""
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        temporary = self.directory / f"{name}.new"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        try:
            _flock(fd, wait=True)
            path = temporary.with_suffix(SUFFIX)
            os.rename(temporary, path)
            _sync_directory(self.directory)
        except OSError:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        self._segment = _Segment(path, fd)
        return self._segment

    def retire(self) -> None:
        """The records written so far are all buffered for the database: later ones go to a
        new segment. Call it under the lock that orders `append`s with the buffer."""
        with self._cond:
            self._retire_open()

    def _retire_open(self) -> None:
        # a group already queued goes to the next segment, like the records after it
        segment, self._segment = self._segment, None
        self._retired += self._broken
        self._broken = []
        if segment is not None:
            self._retired.append(segment)

    def delete_retired(self, *, keep: bool = False) -> None:
        """The retired segments' events are in the database: delete them (with `keep`, some
        were dropped from memory unwritten: close them instead, for a later start to replay)."""
        with self._io:
            with self._cond:
                retired, self._retired = self._retired, []
            for segment in retired:
                segment.close(delete=not keep)

    def close(self) -> None:
        """Once every buffered event is written: delete this process's segments."""
        with self._cond:
            self._retire_open()
        self.delete_retired()


def replay_spool(directory: str | Path, write: Callable[[Sequence[EventRow]], int]) -> int:
    """Write the events of every segment in `directory` whose process is gone (its lock is
    free) and delete it; how many events. Segments of live processes are left alone; a
    segment whose write fails stays for the next start and the error is raised."""
    replayed = 0
    for path in Path(directory).glob("*.new"):  # its process died before it held events
        with contextlib.suppress(FileNotFoundError):
            if time.time() - path.stat().st_mtime > 60:  # not one being created now
                _remove_if_unlocked(path)
    for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # another process replayed it meanwhile
            continue
        try:
            if not _flock(fd, wait=False):
                continue  # a live process's segment
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read()
            rows = [row for record in read_records(data, path.name) for row in record]
            for start in range(0, len(rows), 5000):
                write(rows[start : start + 5000])
            path.unlink(missing_ok=True)
            replayed += len(rows)
            log.warning(
                "replayed %d decision events of a process that stopped uncleanly (%s)",
                len(rows),
                path.name,
            )
        finally:
            os.close(fd)
    return replayed


def _remove_if_unlocked(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        if _flock(fd, wait=False):
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)
