"""The decision-event writers: the child process (its life, its failures, refused rows), the
thread writer, their choice in the settings, and the SQLite writer lock shared by processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from nextoffer.config import ConfigError, Settings
from nextoffer.ids import TimeOrderedIds
from nextoffer.store.database import Database
from nextoffer.store.decision_event_writers import ProcessWriter, ThreadWriter, open_writer
from nextoffer.store.decision_events import DecisionEventLog
from nextoffer.tenants import Tenant
from tests.capping.servers import decide_as, nodes, tenant_headers, tenant_with_library
from tests.conftest import new_org, postgres_database
from tests.store.test_decision_events import event


def exited(pid: int) -> bool:
    """Whether process `pid` is gone (or a zombie nobody waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite file of this test's own (some tests break it or lock it)."""
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.upgrade()
    yield db
    db.dispose()


def child_of(log: DecisionEventLog) -> ProcessWriter:
    assert isinstance(log.writer, ProcessWriter)
    return log.writer


def test_the_process_writer_runs_one_child_at_lower_priority_until_closed(
    database: Database,
) -> None:
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(database, flush_interval=3600)
    writer = child_of(log)
    assert writer.pid is None  # started by the first write, not before
    first = event(0)
    log.record(tenant, [first])
    assert log.flush() == 1
    pid = writer.pid
    assert pid is not None and pid != os.getpid()
    ours = os.getpriority(os.PRIO_PROCESS, 0)  # 10 lower, as far as 19 allows (a niced run)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + 10)
    second = event(1)
    log.record(tenant, [second])
    log.flush()
    assert writer.pid == pid  # one child for the log's life
    log.close()
    assert writer.pid is None and exited(pid)
    stored = DecisionEventLog(database, writer="thread").get(
        tenant, [first.proposition_id, second.proposition_id]
    )
    assert set(stored) == {first.proposition_id, second.proposition_id}


def test_the_child_outlives_a_terminal_interrupt_and_a_terminate_signal(
    database: Database,
) -> None:
    """Ctrl-C or a service manager signals a server's whole process group; the server then
    shuts down and hands its last events to the child, which is still there (a child that
    died would be replaced by the next write, at the cost of a restart)."""
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(database, flush_interval=3600)
    log.record(tenant, [event(0)])
    log.flush()
    pid = child_of(log).pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.2)
    last = event(1)
    log.record(tenant, [last])
    log.flush()
    assert child_of(log).pid == pid  # the same child wrote it (a dead one would be replaced)
    log.close()
    assert child_of(log).pid is None and exited(pid)
    assert last.proposition_id in log.get(tenant, [last.proposition_id])


def test_a_killed_child_is_replaced_and_its_batch_written_again(database: Database) -> None:
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(database, flush_interval=3600)
    before = [event(i) for i in range(3)]
    log.record(tenant, before)
    log.flush()
    pid = child_of(log).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    after = [event(i) for i in range(3, 6)]
    log.record(tenant, after)
    try:
        log.flush()  # may meet the dead child: the batch stays buffered
    except RuntimeError as exc:
        assert "writer process failed" in str(exc)
        assert {e.proposition_id for e in after} <= set(
            log.get(tenant, [e.proposition_id for e in after])
        )
        log.flush()  # a new child writes it
    assert child_of(log).pid not in (None, pid)
    log.close()
    reader = DecisionEventLog(database, writer="thread")
    ids = [e.proposition_id for e in before + after]
    assert set(reader.get(tenant, ids)) == set(ids)


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_a_row_the_database_refuses_is_skipped_and_the_rest_written(
    database: Database, kind: str
) -> None:
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(database, writer=kind, flush_interval=3600)
    good = [event(i) for i in range(7)]
    bad = event(3, activity_id=None)  # NOT NULL
    log.record(tenant, [*good[:3], bad, *good[3:]])
    assert log.flush() == 8
    assert log.refused == 1
    log.close()
    reader = DecisionEventLog(database, writer="thread")
    stored = reader.get(tenant, [e.proposition_id for e in [*good, bad]])
    assert set(stored) == {e.proposition_id for e in good}


def test_on_postgresql_a_value_too_long_is_refused_alone() -> None:
    """(SQLite does not enforce column lengths.)"""
    with postgres_database("nextoffer_writers") as database:
        tenant = Tenant(new_org(), "prod")
        log = DecisionEventLog(database, flush_interval=3600)
        good, long = event(0), event(1, identity=("Email", "x" * 2000))
        log.record(tenant, [good, long])
        log.flush()
        assert log.refused == 1
        log.close()
        stored = DecisionEventLog(database, writer="thread").get(
            tenant, [good.proposition_id, long.proposition_id]
        )
        assert set(stored) == {good.proposition_id}


def test_an_unreachable_database_keeps_the_batch_for_the_next_try(file_db: Database) -> None:
    db = file_db
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(db, flush_interval=3600)
    e = event(0)
    log.record(tenant, [e])
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE decision_events RENAME TO decision_events_away"))
    with pytest.raises(RuntimeError, match="no such table: decision_events"):
        log.flush()
    assert log.get(tenant, [e.proposition_id]) == {e.proposition_id: e}  # still buffered
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE decision_events_away RENAME TO decision_events"))
    assert log.flush() == 1
    log.close()
    assert e.proposition_id in DecisionEventLog(db, writer="thread").get(tenant, [e.proposition_id])


def test_the_writer_is_chosen_by_the_settings(file_db: Database) -> None:
    assert Settings().decision_event_writer == "process"
    env = {"NEXTOFFER_DECISION_EVENT_WRITER": "Thread"}
    assert Settings.from_env(env).decision_event_writer == "thread"
    with pytest.raises(
        ConfigError, match="NEXTOFFER_DECISION_EVENT_WRITER must be one of process, thread"
    ):
        Settings.from_env({"NEXTOFFER_DECISION_EVENT_WRITER": "cloud"})
    assert isinstance(open_writer(file_db, "process"), ProcessWriter)
    assert isinstance(open_writer(file_db, "thread"), ThreadWriter)
    with pytest.raises(ConfigError, match="not 'cloud'"):
        open_writer(file_db, "cloud")


def test_processes_queue_on_the_sqlite_writer_lock(file_db: Database) -> None:
    """Another process holding the lock makes `write()` wait until it lets go, not fail and
    not sleep in SQLite's busy handler; and it lets go when it dies."""
    db, path = file_db, file_db.sqlite_path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from nextoffer.store.database import Database
                db = Database({f"sqlite:///{path}"!r})
                with db.writer_lock:
                    print("held", flush=True)
                    time.sleep(0.5)
                    print(time.time(), flush=True)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    with db.write() as conn:
        entered = time.time()
        conn.execute(text("SELECT 1"))
    released = float(holder.stdout.readline())
    holder.wait()
    assert entered >= released
    assert db.sqlite_path is not None
    assert os.path.exists(db.sqlite_path + "-writer.lock")
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from nextoffer.store.database import Database\n"
            f"db = Database({f'sqlite:///{path}'!r})\n"
            "db.writer_lock.__enter__()\nprint('held', flush=True)\nimport time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == "held"
    killed.kill()
    killed.wait()
    with db.write() as conn:  # the dead holder's lock went with it
        conn.execute(text("SELECT 1"))


def test_proposition_ids_are_version_7_uuids_in_increasing_order() -> None:
    ids = TimeOrderedIds()
    made = [ids.next() for _ in range(5000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    for value in made[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
    now_ms = time.time_ns() // 1_000_000
    assert abs(int(made[-1].replace("-", "")[:12], 16) - now_ms) < 60_000


@given(st.lists(st.integers(min_value=0, max_value=2**48 - 2), min_size=1, max_size=200))
def test_ids_increase_whatever_the_clock_does(readings: list[int]) -> None:
    """Equal, earlier and later clock readings alike: every id sorts after the one before, and
    carries the clock (or, after a step back, the last time it gave)."""
    ids = TimeOrderedIds()
    made, high = [], 0
    for millis in readings:
        made.append(ids.at(millis))
        stamp = int(made[-1].replace("-", "")[:12], 16)
        assert stamp >= max(millis, high)
        high = stamp
    assert made == sorted(made) and len(set(made)) == len(made)


def test_more_ids_in_a_millisecond_than_the_sequence_holds_move_to_the_next() -> None:
    ids = TimeOrderedIds()
    made = [ids.at(1000) for _ in range(TimeOrderedIds.SEQUENCE_MAX + 2)]
    assert made == sorted(made)
    assert made[-1].replace("-", "")[:12] == f"{1001:012x}"


def children(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, IndexError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_a_server_signalled_with_its_writer_stores_every_decision_event(
    file_db: Database,
) -> None:
    """SIGTERM to the server and its writer at once (as a service manager stopping the
    process group does): the server shuts down, hands its last events to the writer, and
    both exit with every decision's event stored."""
    db = file_db
    org = tenant_with_library(db)
    with nodes(1, str(db.url), NEXTOFFER_DECISION_EVENT_FLUSH_MS="600000") as (base,):
        for i in range(20):
            decide_as(base, org, f"u{i}@example.com")
            if i == 9:  # reading events writes the buffer first: the writer process starts
                listed = httpx.get(f"{base}/v1/decision-events", headers=tenant_headers(org))
                assert listed.json()["count"] == 10
        server = next(
            int(p.parent.name)
            for p in Path("/proc").glob("[0-9]*/cmdline")
            if f"{base.rsplit(':', 1)[1]}".encode() in p.read_bytes() and b"serve" in p.read_bytes()
        )
        (writer,) = children(server)  # ten events are still buffered in the server
        os.kill(writer, signal.SIGTERM)
        os.kill(server, signal.SIGTERM)
        for _ in range(200):
            if exited(server) and exited(writer):
                break
            time.sleep(0.05)
        assert exited(server) and exited(writer)
    stored = DecisionEventLog(db, writer="thread").query(Tenant(org, "prod"), limit=100).items
    assert sorted(e.identity[1] for e in stored if e.identity) == sorted(
        f"u{i}@example.com" for i in range(20)
    )


def test_a_writer_process_that_cannot_start_keeps_the_batch(
    file_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No interpreter to start (a broken install): the flush fails with the reason, the events
    stay buffered and readable, and the first write once it can start stores them."""
    db = file_db
    tenant = Tenant(new_org(), "prod")
    log = DecisionEventLog(db, flush_interval=3600)
    e = event(0)
    log.record(tenant, [e])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(RuntimeError, match="writer process did not start"):
        log.flush()
    assert log.get(tenant, [e.proposition_id]) == {e.proposition_id: e}
    monkeypatch.undo()
    assert log.flush() == 1
    log.close()
    assert e.proposition_id in DecisionEventLog(db, writer="thread").get(tenant, [e.proposition_id])
