"""The durable mode's spool: group syncs, segments deleted once written, replay of a dead
process's segments (once, whatever happens twice), torn records skipped, a failed sync a 503,
and a real server killed with SIGKILL keeping every answered decision's event."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.config import ConfigError, Settings, spool_directory
from nextoffer.errors import DependencyUnavailable
from nextoffer.library.portable import import_library
from nextoffer.observability import Observer
from nextoffer.observability.prometheus import PrometheusMetrics
from nextoffer.store.database import Database
from nextoffer.store.decision_event_spool import (
    SUFFIX,
    Spool,
    encode_record,
    read_records,
    replay_spool,
)
from nextoffer.store.decision_event_tables import EventRow
from nextoffer.store.decision_events import DecisionEventLog
from nextoffer.tenants import Actor, Tenant
from tests.capping.library import decision_body, portable
from tests.capping.servers import decide_as, nodes, tenant_headers, tenant_with_library
from tests.conftest import build_services, new_org
from tests.helpers import assert_problem
from tests.observability.test_serve import serving
from tests.store.test_decision_event_writers import children
from tests.store.test_decision_events import event


def row(i: int) -> EventRow:
    return ["org", "prod", f"p{i}", "2026-05-01T12:00:00.000Z", None, None, None, "a", "p", []]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def abandon(spool: Spool) -> None:
    """What a process killed with SIGKILL leaves: its segments on disk, their locks free."""
    spool.retire()
    spool.delete_retired(keep=True)


def durable_log(db: Database, spool: Spool, **options: Any) -> DecisionEventLog:
    """A durable log whose buffer is written only when a test says so."""
    return DecisionEventLog(
        db, writer="thread", flush_interval=3600, batch_size=10_000, spool=spool, **options
    )


def stored(db: Database, tenant: Tenant) -> list[str]:
    items = DecisionEventLog(db, writer="thread").query(tenant, limit=1000).items
    return sorted(e.proposition_id for e in items)


# -- the spool ----------------------------------------------------------------------------------


def test_records_queued_together_share_one_sync(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    groups = [spool.append(encode_record([row(i)])) for i in range(3)]
    assert len({id(g) for g in groups}) == 1  # one open group
    spool.wait(groups[0])
    assert spool.syncs == 1
    spool.wait(groups[2])  # already on disk: no second sync
    assert spool.syncs == 1
    (segment,) = segments(tmp_path)
    assert [r for record in read_records(segment.read_bytes()) for r in record] == [
        row(0),
        row(1),
        row(2),
    ]


def test_each_group_sync_is_reported_with_its_size(tmp_path: Path) -> None:
    metrics = PrometheusMetrics()
    spool = Spool(tmp_path, Observer(metrics))
    groups = [spool.append(encode_record([row(i)])) for i in range(3)]
    spool.wait(groups[1])
    spool.write([row(3)])
    sample = metrics.registry.get_sample_value
    assert sample("nextoffer_decision_event_spool_sync_duration_seconds_count") == 2
    assert sample("nextoffer_decision_event_spool_records_total") == 4


def test_concurrent_writers_each_return_with_their_record_on_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    start = threading.Barrier(8)

    def write(i: int) -> None:
        start.wait()
        for j in range(25):
            spool.write([row(i * 100 + j)])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (segment,) = segments(tmp_path)
    written = [r[2] for record in read_records(segment.read_bytes()) for r in record]
    assert sorted(written) == sorted(f"p{i * 100 + j}" for i in range(8) for j in range(25))
    assert 1 <= spool.syncs <= 200


def test_a_live_processs_segment_is_never_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write([row(1)])
    seen: list[EventRow] = []
    assert replay_spool(tmp_path, lambda rows: seen.extend(rows) or 0) == 0
    assert seen == [] and len(segments(tmp_path)) == 1
    abandon(spool)  # now its process is gone
    assert replay_spool(tmp_path, lambda rows: seen.extend(rows) or 0) == 1
    assert seen == [row(1)] and segments(tmp_path) == []


def test_a_torn_last_record_is_skipped_with_a_warning_and_the_rest_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.write([row(i)])
    abandon(spool)
    (segment,) = segments(tmp_path)
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # the last write was cut short by the crash
    seen: list[EventRow] = []
    with caplog.at_level(logging.WARNING, "nextoffer.decision_events"):
        assert replay_spool(tmp_path, lambda rows: seen.extend(rows) or 0) == 2
    assert seen == [row(0), row(1)]
    assert "torn record" in caplog.text
    assert segments(tmp_path) == []


def test_a_record_with_a_bad_checksum_is_skipped_and_the_next_replayed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second, third = (encode_record([row(i)]) for i in range(3))
    broken = second[:-1] + bytes([second[-1] ^ 0xFF])
    with caplog.at_level(logging.WARNING, "nextoffer.decision_events"):
        records = list(read_records(first + broken + third + b"\x00\x00"))
    assert records == [[row(0)], [row(2)]]
    assert "bad checksum" in caplog.text and "torn record (2 bytes)" in caplog.text


def test_a_sync_that_fails_is_a_503_naming_the_spool_and_the_next_one_recovers(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    spool = Spool(directory)
    shutil.rmtree(directory)  # the disk under the spool is gone
    with pytest.raises(DependencyUnavailable) as caught:
        spool.write([row(1)])
    assert caught.value.code == "dependency-unavailable"
    assert caught.value.extra["dependency"] == "decision-event spool"
    assert "No such file or directory" in caught.value.detail
    directory.mkdir()
    spool.write([row(2)])
    (segment,) = segments(directory)
    assert list(read_records(segment.read_bytes())) == [[row(2)]]


def test_a_decision_whose_spool_cannot_be_written_is_a_503_naming_the_spool(
    database: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "spool"
    services = build_services(
        database, decision_events="durable", decision_event_spool_dir=str(directory)
    )
    org = new_org()
    import_library(services.library, Tenant(org, "prod"), Actor("t", "t"), portable([]))
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        shutil.rmtree(directory)  # the spool's disk is gone before its first segment
        r = client.post(
            "/data/core/ods/decisions", json=decision_body(), headers=tenant_headers(org)
        )
        body = assert_problem(r, 503, "dependency-unavailable")
        assert body["dependency"] == "decision-event spool"
        assert r.headers["retry-after"] == "5"
        directory.mkdir()
        again = client.post(
            "/data/core/ods/decisions", json=decision_body(), headers=tenant_headers(org)
        )
        assert again.status_code == 200, again.text


# -- the log in durable mode ----------------------------------------------------------------------


def test_durable_events_are_on_disk_when_recorded_and_deleted_once_written(
    database: Database, tmp_path: Path
) -> None:
    tenant = Tenant(new_org(), "prod")
    log = durable_log(database, Spool(tmp_path))
    events = [event(i) for i in range(3)]
    log.record(tenant, events[:2])
    log.record(tenant, events[2:])
    (segment,) = segments(tmp_path)
    on_disk = [r[2] for record in read_records(segment.read_bytes()) for r in record]
    assert on_disk == [e.proposition_id for e in events]  # before any write to the database
    assert stored(database, tenant) == []
    assert log.flush() == 3
    assert segments(tmp_path) == []
    log.record(tenant, [event(9)])
    log.close()  # a clean stop writes the rest and leaves no segment
    assert segments(tmp_path) == []
    assert len(stored(database, tenant)) == 4


def test_a_dead_processs_events_are_replayed_once_even_twice_or_after_being_written(
    database: Database, tmp_path: Path
) -> None:
    tenant = Tenant(new_org(), "prod")
    spool = Spool(tmp_path)
    log = durable_log(database, spool)
    events = [event(i) for i in range(5)]
    log.record(tenant, events[:2])
    log._write_now([r for record in _spooled(tmp_path) for r in record])  # written, then
    log.record(tenant, events[2:])  # the process dies before it deletes the segment
    abandon(spool)
    (segment,) = segments(tmp_path)
    copy = segment.read_bytes()
    again = DecisionEventLog(database, writer="thread", spool=Spool(tmp_path / "other"))
    assert replay_spool(tmp_path, again._write_now) == 5
    segment.write_bytes(copy)  # replayed a second time (a crash before the unlink)
    assert replay_spool(tmp_path, again._write_now) == 5
    assert stored(database, tenant) == sorted(e.proposition_id for e in events)


def test_building_a_durable_log_replays_what_a_dead_process_left(
    database: Database, tmp_path: Path
) -> None:
    tenant = Tenant(new_org(), "prod")
    spool = Spool(tmp_path)
    log = durable_log(database, spool)
    events = [event(i) for i in range(3)]
    log.record(tenant, events)
    abandon(spool)  # killed: nothing reached the database
    assert stored(database, tenant) == []
    DecisionEventLog(database, writer="thread", spool=Spool(tmp_path))
    assert stored(database, tenant) == sorted(e.proposition_id for e in events)
    assert segments(tmp_path) == []


def test_a_replay_while_the_database_is_away_keeps_the_segment_for_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.upgrade()
    tenant = Tenant(new_org(), "prod")
    spool = Spool(tmp_path / "spool")
    durable_log(db, spool).record(tenant, [event(1)])
    abandon(spool)
    away = Database(f"sqlite:///{tmp_path / 'gone' / 'events.db'}")  # cannot be opened
    with caplog.at_level(logging.ERROR, "nextoffer.decision_events"):
        assert DecisionEventLog(away, writer="thread", spool=Spool(spool.directory)).replay() == 0
    assert "replaying the decision-event spool" in caplog.text
    assert "kept for the next start" in caplog.text
    assert len(segments(spool.directory)) == 1
    DecisionEventLog(db, writer="thread", spool=Spool(spool.directory))  # the database is back
    assert segments(spool.directory) == [] and len(stored(db, tenant)) == 1
    db.dispose()
    away.dispose()


def test_events_dropped_from_a_full_buffer_stay_in_the_spool_for_the_next_start(
    database: Database, tmp_path: Path
) -> None:
    tenant = Tenant(new_org(), "prod")
    log = durable_log(database, Spool(tmp_path), max_pending=2)
    events = [event(i) for i in range(3)]
    log.record(tenant, events)  # the oldest is dropped from memory
    assert log.dropped == 1
    log.close()
    assert stored(database, tenant) == sorted(e.proposition_id for e in events[1:])
    assert len(segments(tmp_path)) == 1  # kept, unlocked
    DecisionEventLog(database, writer="thread", spool=Spool(tmp_path))
    assert stored(database, tenant) == sorted(e.proposition_id for e in events)


def _spooled(directory: Path) -> list[Sequence[EventRow]]:
    return [r for s in segments(directory) for r in read_records(s.read_bytes())]


# -- settings -------------------------------------------------------------------------------------


def test_the_mode_is_read_from_the_environment_and_checked() -> None:
    assert Settings.from_env({}).decision_events == "buffered"
    assert Settings.from_env({"NEXTOFFER_DECISION_EVENTS": " Durable "}).decision_events == (
        "durable"
    )
    with pytest.raises(ConfigError, match="NEXTOFFER_DECISION_EVENTS must be one of"):
        Settings.from_env({"NEXTOFFER_DECISION_EVENTS": "fsync"})


def test_each_database_has_a_spool_of_its_own_unless_one_is_configured(tmp_path: Path) -> None:
    a = spool_directory(Settings(database_url="postgresql://u:secret@db/a"))
    assert a == spool_directory(Settings(database_url="postgresql://u:changed@db/a"))
    assert a != spool_directory(Settings(database_url="postgresql://u:secret@db/b"))
    chosen = Settings(database_url="sqlite://", decision_event_spool_dir=str(tmp_path))
    assert spool_directory(chosen) == tmp_path


# -- a real server killed with SIGKILL ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["durable", "buffered"])
def test_a_server_killed_with_sigkill_keeps_every_answered_event_only_in_durable_mode(
    tmp_path: Path, mode: str
) -> None:
    """20 decisions answered, then SIGKILL (the flush interval is 10 minutes, so none of their
    events reached the database): durable, the restarted server has all 20, once each;
    buffered, all 20 are lost while the decisions were counted — the window the README names."""
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.upgrade()
    org = tenant_with_library(db)
    env = {
        "NEXTOFFER_DECISION_EVENTS": mode,
        "NEXTOFFER_DECISION_EVENT_FLUSH_MS": "600000",
        "NEXTOFFER_DECISION_EVENT_SPOOL_DIR": str(tmp_path / "spool"),
    }
    answered = []
    with nodes(1, str(db.url), **env) as (base,):
        for i in range(20):
            decide_as(base, org, f"u{i}@example.com")
            answered.append(f"u{i}@example.com")
        os.kill(_server_pid(base), signal.SIGKILL)
    with nodes(1, str(db.url), **env) as (base,):
        listed = httpx.get(
            f"{base}/v1/decision-events", params={"limit": 100}, headers=tenant_headers(org)
        ).json()
    identities = sorted(item["identity"]["id"] for item in listed["results"])
    if mode == "durable":
        assert identities == sorted(answered)  # every one, and once
    else:
        assert identities == []  # every event of the window lost
    db.dispose()


def test_under_two_workers_each_spools_its_own_and_a_restart_replays_both(
    tmp_path: Path,
) -> None:
    """`serve --workers 2` in durable mode: each worker writes segments of its own in the
    shared spool folder; SIGKILL to the workers and their supervisor, and the restarted
    server has every answered decision's event, once."""
    db = Database(f"sqlite:///{tmp_path / 'serve.db'}")
    db.upgrade()
    org = tenant_with_library(db)
    db.dispose()
    spool = tmp_path / "spool"
    env = {
        "NEXTOFFER_DECISION_EVENTS": "durable",
        "NEXTOFFER_DECISION_EVENT_FLUSH_MS": "600000",
        "NEXTOFFER_DECISION_EVENT_SPOOL_DIR": str(spool),
    }
    answered: list[str] = []
    with serving(tmp_path, "--workers", "2", **env) as (base, proc, _log):
        while len({p.name.split("-")[0] for p in segments(spool)}) < 2 or len(answered) < 20:
            email = f"u{len(answered)}@example.com"
            decide_as(base, org, email)  # a fresh connection each: either worker
            answered.append(email)
            assert len(answered) < 500, "one worker answered every connection"
        for pid in [*children(proc.pid), proc.pid]:
            os.kill(pid, signal.SIGKILL)
        proc.wait()
    assert len(segments(spool)) >= 2  # left behind, unlocked
    with serving(tmp_path, **env) as (base, _proc, _log):
        listed = httpx.get(
            f"{base}/v1/decision-events", params={"limit": 1000}, headers=tenant_headers(org)
        ).json()
    identities = [item["identity"]["id"] for item in listed["results"]]
    assert sorted(identities) == sorted(answered)
    assert segments(spool) == []


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1].encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and port in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no server process listens on {base}")
