"""Batch fairness (issue 15): fair claims across tenants, a share per tenant, a queue limit per
tenant (429), and outputs deleted after their retention. Order of start is asserted, never
wall time; on SQLite and PostgreSQL, each test on a database of its own (claims are global)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import Settings
from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.batch.profiles import profile_docs
from tests.batch.test_api import DWM, workload
from tests.conftest import build_services, new_org, postgres_database
from tests.helpers import Api, assert_problem

HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Database]:
    with postgres_database("nextoffer_batch_fair") as db:
        yield db


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database no other test queues jobs in."""
    if request.param == "sqlite":
        made = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
        made.upgrade()
        yield made
        made.dispose()
        return
    made = request.getfixturevalue("postgres_db")
    with made.write() as conn:
        conn.execute(sa.text("DELETE FROM batch_jobs"))
    yield made


class Node:
    """One server over `db`: its services and a client per tenant."""

    def __init__(self, db: Database, out: Path, **settings: Any) -> None:
        overrides = {"batch_output_dir": str(out), "batch_workers": 0, "batch_run_jobs": False}
        self.services: Services = build_services(db, **{**overrides, **settings})
        self.client = TestClient(create_app(services_=self.services), raise_server_exceptions=False)

    def tenant(self, org: str | None = None, profiles: int = 0) -> Api:
        api = Api(self.client, org or new_org(), "prod")
        if profiles:
            tenant = Tenant(api.org, api.sandbox)
            import_library(self.services.library, tenant, Actor("t", "t"), demo_library())
            self.services.profiles.bulk_upsert(tenant, profile_docs(profiles))
        return api

    def submit(self, api: Api, **extra: Any) -> Any:
        return api.client.post(DWM, json=workload(**extra), headers=api.headers)

    def queue(self, api: Api, jobs: int) -> list[str]:
        ids = []
        for _ in range(jobs):
            r = self.submit(api)
            assert r.status_code == 200, r.text
            ids.append(r.json()["@id"])
        return ids

    def status(self, api: Api, job_id: str) -> dict[str, Any]:
        r = api.client.get(f"{DWM}/{job_id}", headers=api.headers)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def node(db: Database, tmp_path: Path) -> Iterator[Node]:
    made = Node(db, tmp_path / "out")
    yield made
    made.client.close()


def test_a_small_job_of_another_tenant_starts_before_the_big_ones_queued_earlier(
    node: Node,
) -> None:
    big, small = node.tenant(profiles=60), node.tenant(profiles=3)
    bigs = node.queue(big, 3)
    [little] = node.queue(small, 1)
    # one runner, one job at a time: tenants take turns (before: all of big's, then small's)
    assert node.services.batch.run_pending() == [bigs[0], little, bigs[1], bigs[2]]
    statuses = [node.status(big, j)["ode:status"] for j in bigs]
    assert statuses == ["COMPLETED"] * 3 and node.status(small, little)["ode:status"] == "COMPLETED"


def test_a_tenant_with_fewer_running_jobs_goes_first(db: Database, tmp_path: Path) -> None:
    node = Node(db, tmp_path, batch_jobs_per_tenant=5)
    big, small = node.tenant(profiles=3), node.tenant(profiles=3)
    bigs = node.queue(big, 3)
    [little] = node.queue(small, 1)
    first = node.services.batch.claim()  # a worker starts big's first job, still running
    assert first is not None and first.id == bigs[0]
    second = node.services.batch.claim()  # the next worker: small has none running
    assert second is not None and second.id == little
    third = node.services.batch.claim()  # big may run several at once (5 here)
    assert third is not None and third.id == bigs[1]


def test_one_tenant_never_runs_more_than_its_share_over_every_node(
    db: Database, tmp_path: Path
) -> None:
    one = Node(db, tmp_path, batch_jobs_per_tenant=1)
    other = Node(db, tmp_path, batch_jobs_per_tenant=1)  # another server, same database
    big, small = one.tenant(profiles=3), one.tenant(profiles=3)
    bigs = one.queue(big, 3)
    [little] = one.queue(small, 1)
    running = one.services.batch.claim()
    assert running is not None and running.id == bigs[0]
    taken = other.services.batch.claim()
    assert taken is not None and taken.id == little
    assert other.services.batch.claim() is None  # big already runs its one job
    assert one.services.batch.claim() is None
    one.services.batch.run(running)
    after = other.services.batch.claim()
    assert after is not None and after.id == bigs[1]


def test_a_full_queue_is_429_with_retry_after(db: Database, tmp_path: Path) -> None:
    node = Node(db, tmp_path, batch_queue_per_tenant=2)
    api, neighbour = node.tenant(profiles=3), node.tenant(profiles=3)
    node.queue(api, 2)
    r = node.submit(api)
    body = assert_problem(r, 429, "batch-queue-full")
    assert r.headers["retry-after"] == "60" and body["retryAfter"] == 60
    assert body["limit"] == "batchQueuePerTenant" and "2 jobs" in body["detail"]
    r = api.client.post(
        "/data/core/ode/c1/workloads/decisions", json=workload(), headers=api.headers
    )
    assert r.status_code == 429  # the ODE form counts against the same queue
    node.queue(neighbour, 1)  # another tenant's queue is its own
    assert len(node.services.batch.run_pending()) == 3
    node.queue(api, 1)  # finished jobs leave the queue


def test_outputs_are_deleted_after_their_retention(db: Database, tmp_path: Path) -> None:
    node = Node(db, tmp_path, batch_output_retention_hours=24)
    api = node.tenant(profiles=3)
    [job_id] = node.queue(api, 1)
    node.services.batch.run_pending()
    done = node.status(api, job_id)
    assert done["ode:status"] == "COMPLETED" and "path" in done["nextoffer:output"]
    job = node.services.batch.get(Tenant(api.org, api.sandbox), job_id)
    file = node.services.batch.output_path(job)
    assert file.is_file()
    finished_ms = job.updated_ms
    assert finished_ms is not None
    batch = node.services.batch
    assert batch.expire_outputs(now_ms=finished_ms + 24 * HOUR_MS - 1) == []
    assert file.is_file()
    assert batch.expire_outputs(now_ms=finished_ms + 24 * HOUR_MS + 1) == [job_id]
    assert not file.exists()
    expired = node.status(api, job_id)
    assert expired["ode:status"] == "COMPLETED"  # the decisions were made; the file is gone
    assert expired["nextoffer:output"] == {
        "dataSetId": "6196b4a1a63bd118dafe093c",
        "format": "parquet",
        "expired": True,
    }
    assert expired["ode:statusDetail"]["code"] == "output-expired"
    assert "NEXTOFFER_BATCH_OUTPUT_RETENTION_HOURS" in expired["ode:statusDetail"]["message"]
    assert expired["nextoffer:summary"] == done["nextoffer:summary"]
    assert batch.expire_outputs(now_ms=finished_ms + 48 * HOUR_MS) == []  # once


def test_a_retention_of_zero_keeps_outputs(db: Database, tmp_path: Path) -> None:
    node = Node(db, tmp_path, batch_output_retention_hours=0)
    api = node.tenant(profiles=3)
    [job_id] = node.queue(api, 1)
    node.services.batch.run_pending()
    assert node.services.batch.expire_outputs(now_ms=2**62) == []
    assert "path" in node.status(api, job_id)["nextoffer:output"]


def test_several_runner_threads_finish_every_tenant_s_jobs(db: Database, tmp_path: Path) -> None:
    node = Node(db, tmp_path, batch_run_jobs=True, batch_concurrent_jobs=2)
    with node.client:
        big, small = node.tenant(profiles=10), node.tenant(profiles=3)
        ids = [(big, j) for j in node.queue(big, 3)] + [(small, j) for j in node.queue(small, 2)]
        names = {t.name for t in threading.enumerate()}
        assert {"nextoffer-batch-1", "nextoffer-batch-2"} <= names
        for api, job_id in ids:
            deadline = 600  # polls of the status, not seconds
            while node.status(api, job_id)["ode:status"] not in ("COMPLETED", "ERROR"):
                deadline -= 1
                assert deadline, f"job {job_id} did not finish"
                time.sleep(0.1)
            assert node.status(api, job_id)["ode:status"] == "COMPLETED"


def test_the_batch_settings_are_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "NEXTOFFER_BATCH_CONCURRENT_JOBS": "4",
            "NEXTOFFER_BATCH_JOBS_PER_TENANT": "2",
            "NEXTOFFER_BATCH_QUEUE_PER_TENANT": "50",
            "NEXTOFFER_BATCH_OUTPUT_RETENTION_HOURS": "0",
        }
    )
    assert (s.batch_concurrent_jobs, s.batch_jobs_per_tenant) == (4, 2)
    assert (s.batch_queue_per_tenant, s.batch_output_retention_hours) == (50, 0)
    with pytest.raises(ValueError, match="NEXTOFFER_BATCH_JOBS_PER_TENANT"):
        Settings.from_env({"NEXTOFFER_BATCH_JOBS_PER_TENANT": "0"})
