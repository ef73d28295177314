"""The Batch Decisioning API through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.batch.subjects import profile_seed
from nextoffer.composition import Services
from nextoffer.demo import demo_library
from nextoffer.library.portable import import_library
from nextoffer.records.batch_jobs import JobStatus
from nextoffer.store.batch_jobs import batch_jobs
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.batch.profiles import AUDIENCE, profile_docs
from tests.conftest import build_services, new_org
from tests.helpers import Api, assert_problem

DWM = "/data/core/dwm/workloads/decisions"
ODE = "/data/core/ode/0948b1c5-fff8-3b76-ba17-909c6b93b5a2/workloads/decisions"
HERO = {
    "xdm:activityId": "dps:offer-activity:homepage-and-email",
    "xdm:placementId": "dps:offer-placement:web-hero",
    "xdm:itemCount": 2,
}
APP = {
    "xdm:activityId": "dps:offer-activity:app-home",
    "xdm:placementId": "dps:offer-placement:app-card",
}


def workload(*scopes: dict, audience: str = AUDIENCE, **extra: Any) -> dict:
    """The documented request body (decisioning.batch.request.json) with our ids."""
    return {
        "xdm:segmentIds": [audience],
        "xdm:dataSetId": "6196b4a1a63bd118dafe093c",
        "xdm:propositionRequests": list(scopes or (HERO,)),
        "xdm:includeContent": False,
        **extra,
    }


class BatchApi:
    def __init__(self, api: Api, services: Services) -> None:
        self.api, self.services = api, services

    def post(self, body: Any, path: str = DWM, **headers: str):
        return self.api.client.post(path, json=body, headers={**self.api.headers, **headers})

    def get(self, job_id: str, path: str = DWM, **headers: str):
        return self.api.client.get(f"{path}/{job_id}", headers={**self.api.headers, **headers})

    def output_file(self, done: dict) -> Path:
        """Where the server wrote a finished job's output (the status shows only
        `<dataSetId>/<file>`, relative to the tenant's folder of NEXTOFFER_BATCH_OUTPUT_DIR)."""
        tenant = Tenant(self.api.org, self.api.sandbox)
        path = self.services.batch.output_path(self.services.batch.get(tenant, done["@id"]))
        assert path.as_posix().endswith("/" + done["nextoffer:output"]["path"])
        return path

    def wait(self, job_id: str, path: str = DWM) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            doc = self.get(job_id, path).json()
            if doc["ode:status"] in ("COMPLETED", "ERROR"):
                return doc
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {doc}")


def _tenant_with_profiles(services: Services, api: Api, n: int) -> None:
    tenant = Tenant(api.org, api.sandbox)
    import_library(services.library, tenant, Actor("t", "t"), demo_library())
    services.profiles.bulk_upsert(tenant, profile_docs(n))


@pytest.fixture
def make_batch(database: Database, tmp_path: Path) -> Iterator[Callable[..., BatchApi]]:
    clients: list[TestClient] = []

    def make(profiles: int = 30, **overrides: Any) -> BatchApi:
        settings = {"batch_output_dir": str(tmp_path / "datasets"), "batch_workers": 0}
        services = build_services(database, **{**settings, **overrides})
        client = TestClient(create_app(services_=services), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        api = Api(client, new_org(), "prod")
        _tenant_with_profiles(services, api, profiles)
        return BatchApi(api, services)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_a_workload_decides_like_the_decisioning_api(make_batch, spec_dir: Path) -> None:
    batch = make_batch(30, batch_workers=2)
    r = batch.post(workload(HERO, APP, **{"nextoffer:seed": 77}))
    assert r.status_code == 200, r.text
    created = r.json()
    # the documented create response, member for member
    assert set(created) == {"@id", "xdm:imsOrgId", "ode:createDate", "ode:status"}
    assert created["ode:status"] == "QUEUED" and created["xdm:imsOrgId"] == batch.api.org
    assert r.headers["location"] == f"{DWM}/{created['@id']}"
    done = batch.wait(created["@id"])
    assert done["ode:status"] == "COMPLETED", done
    assert {"@id", "xdm:imsOrgId", "ode:createDate", "ode:status"} <= set(done)
    assert done["ode:createDate"] == created["ode:createDate"]
    output = done["nextoffer:output"]
    assert output["dataSetId"] == "6196b4a1a63bd118dafe093c" and output["format"] == "parquet"
    assert output["path"] == f"6196b4a1a63bd118dafe093c/{created['@id']}.parquet"
    assert batch.output_file(done).is_file()
    summary = done["nextoffer:summary"]
    assert summary["profiles"] == 20 and summary["rows"] == 40

    rows = pq.read_table(batch.output_file(done)).to_pylist()
    assert len(rows) == 40
    decided = {row["identityId"] for row in rows}
    assert decided == {d["identityMap"]["email"][0]["id"] for d in profile_docs(30) if _member(d)}
    for i in range(0, len(rows), 2):
        identity, profile_id = rows[i]["identityId"], rows[i]["profileId"]
        body = {  # the stored profile, looked up by its identity, as the batch read it
            "xdm:propositionRequests": [HERO, APP],
            "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": identity}]}}],
            "nextoffer:seed": profile_seed(77, profile_id),
            "xdm:dryRun": True,
        }
        online = batch.api.client.post(
            "/data/core/ods/decisions", json=body, headers=batch.api.headers
        ).json()
        for scope, prop in enumerate(online["xdm:propositions"]):
            row = rows[i + scope]
            assert row["identityId"] == identity
            assert [o["id"] for o in row["offers"]] == [
                o["xdm:id"] for o in prop.get("xdm:options", [])
            ]
            assert row["fallbackId"] == (prop.get("xdm:fallback") or {}).get("xdm:id")


def _member(doc: dict) -> bool:
    return doc["segmentMembership"]["ups"][AUDIENCE]["status"] != "exited"


def test_the_ode_form_echoes_its_container_and_writes_jsonl(make_batch) -> None:
    batch = make_batch(6)
    body = workload(**{"xdm:includeContent": True, "nextoffer:format": "jsonl"})
    r = batch.post(body, ODE)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["xdm:containerId"] == "0948b1c5-fff8-3b76-ba17-909c6b93b5a2"
    done = batch.wait(created["@id"], ODE)
    assert done["ode:status"] == "COMPLETED"
    assert done["xdm:containerId"] == created["xdm:containerId"]
    path = batch.output_file(done)
    assert path.suffix == ".jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and '"xdm:content"' in lines[0]


def test_refused_workloads_say_which_field_is_wrong(make_batch) -> None:
    batch = make_batch(6)
    two = workload()
    two["xdm:segmentIds"] = [AUDIENCE, "another"]
    assert_problem(batch.post(two), 400, "invalid-body", pointer="/xdm:segmentIds")
    bad_name = workload(**{"xdm:dataSetId": "../../etc"})
    problem = assert_problem(batch.post(bad_name), 400, "invalid-body", pointer="/xdm:dataSetId")
    assert "expected a dataset id: a letter or digit" in problem["errors"][0]["message"]
    unknown = workload(
        {"xdm:activityId": "dps:offer-activity:nope", "xdm:placementId": HERO["xdm:placementId"]}
    )
    body = assert_problem(
        batch.post(unknown),
        422,
        "unknown-decision",
        pointer="/xdm:propositionRequests/0/xdm:activityId",
    )
    assert "dps:offer-activity:nope" in body["errors"][0]["message"]
    body = assert_problem(
        batch.post(workload(audience="aud-nobody")),
        422,
        "unknown-audience",
        pointer="/xdm:segmentIds/0",
    )
    assert "aud-nobody is unknown" in body["detail"]
    tenant = Tenant(batch.api.org, batch.api.sandbox)
    batch.services.profiles.bulk_upsert(
        tenant,
        [
            {
                "identityMap": {"email": [{"id": "gone@example.com"}]},
                "segmentMembership": {"ups": {"aud-left": {"status": "exited"}}},
            }
        ],
    )
    left = batch.post(workload(audience="aud-left"))
    assert_problem(left, 422, "empty-audience", pointer="/xdm:segmentIds/0")
    r = batch.api.client.post(DWM, content=b"{", headers=batch.api.headers)
    assert_problem(r, 400, "malformed-json")
    r = batch.api.client.post(
        DWM, content=b"x", headers={**batch.api.headers, "content-type": "text/plain"}
    )
    assert_problem(r, 415)


def test_workload_status_is_for_its_tenant_only(make_batch) -> None:
    batch = make_batch(3)
    job_id = batch.post(workload()).json()["@id"]
    assert batch.wait(job_id)["ode:status"] == "COMPLETED"
    other = Api(batch.api.client, new_org(), "prod")
    r = batch.api.client.get(f"{DWM}/{job_id}", headers=other.headers)
    assert_problem(r, 404, "not-found")
    assert_problem(batch.get("00000000-0000-4000-8000-000000000000"), 404, "not-found")
    assert_problem(batch.get("not-a-uuid"), 400, parameter="id")
    no_auth = {k: v for k, v in batch.api.headers.items() if k != "Authorization"}
    assert_problem(batch.api.client.get(f"{DWM}/{job_id}", headers=no_auth), 401)
    no_tenant = {k: v for k, v in batch.api.headers.items() if k != "x-sandbox-name"}
    assert_problem(batch.api.client.post(DWM, json=workload(), headers=no_tenant), 400)


def test_an_unwritable_output_directory_fails_the_job_and_writes_nothing(
    make_batch, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the datasets should be")
    batch = make_batch(6, batch_output_dir=str(blocker / "datasets"))
    job_id = batch.post(workload()).json()["@id"]
    done = batch.wait(job_id)
    assert done["ode:status"] == "ERROR"
    assert done["ode:statusDetail"]["code"] == "output-not-writable"
    assert "cannot create" in done["ode:statusDetail"]["message"]
    assert "nextoffer:output" not in done
    assert blocker.read_text() == "a file where the datasets should be"


def test_jobs_survive_a_restart(database: Database, tmp_path: Path) -> None:
    """A job queued on a node that stops, and one whose runner died, both complete later."""
    out = str(tmp_path / "datasets")
    first = build_services(database, batch_output_dir=out, batch_run_jobs=False)
    with TestClient(create_app(services_=first), raise_server_exceptions=False) as client:
        api = Api(client, new_org(), "prod")
        _tenant_with_profiles(first, api, 9)
        batch = BatchApi(api, first)
        queued = batch.post(workload()).json()["@id"]
        crashed = batch.post(workload(APP)).json()["@id"]
        assert batch.get(queued).json()["ode:status"] == "QUEUED"
        # a runner claims the first job, gives it back once, claims it again and dies silently
        claimed = first.batch.jobs.claim("a-runner-that-dies")
        assert claimed is not None and claimed.id == queued  # oldest first
        first.batch.jobs.move(claimed, JobStatus.QUEUED, owner="a-runner-that-dies")
        dying = first.batch.jobs.claim("a-runner-that-dies")
        assert dying is not None and dying.id == queued
        with database.write() as conn:
            conn.execute(update(batch_jobs).where(batch_jobs.c.id == queued).values(heartbeat_ms=0))
        assert batch.get(queued).json()["ode:status"] == "PROCESSING"

    # the server comes back (another Services over the same database)
    second = build_services(database, batch_output_dir=out, batch_workers=0)
    with TestClient(create_app(services_=second), raise_server_exceptions=False) as client:
        batch = BatchApi(Api(client, api.org, "prod"), second)
        done = [batch.wait(queued), batch.wait(crashed)]
    assert [d["ode:status"] for d in done] == ["COMPLETED", "COMPLETED"]
    job = second.batch.jobs.get(queued)
    assert job is not None and job.attempts == 3  # claimed twice by the dead runner, then run
    assert batch.output_file(done[0]).is_file()
    assert pq.read_table(batch.output_file(done[1])).num_rows == 6


def test_status_moves_only_forward(database: Database, tmp_path: Path) -> None:
    from nextoffer.records.batch_jobs import IllegalTransition

    services = build_services(database, batch_output_dir=str(tmp_path), batch_run_jobs=False)
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        api = Api(client, new_org(), "prod")
        _tenant_with_profiles(services, api, 3)
        job_id = BatchApi(api, services).post(workload()).json()["@id"]
    jobs = services.batch.jobs
    queued = jobs.get(job_id)
    assert queued is not None
    with pytest.raises(IllegalTransition, match="a QUEUED job cannot become COMPLETED"):
        jobs.move(queued, JobStatus.COMPLETED)
    running = jobs.claim("me")
    assert running is not None and running.status is JobStatus.PROCESSING
    assert not jobs.move(running, JobStatus.INGESTING, owner="someone else")
    assert not jobs.move(queued, JobStatus.PROCESSING)  # it is no longer queued
    assert jobs.move(running, JobStatus.ERROR, owner="me", detail={"message": "stopped"})
    failed = jobs.get(job_id)
    assert failed is not None and failed.finished
    with pytest.raises(IllegalTransition):
        jobs.move(failed, JobStatus.QUEUED)


def test_total_caps_share_their_counters_with_online_decisions(make_batch) -> None:
    """Online decisions use part of a total cap; the job gets exactly the rest, and counts it."""
    batch = make_batch(0)
    api = batch.api
    placement = api.placement()
    cap = {"enabled": True, "limit": 25, "scope": "global", "entity": "offer"}
    capped = api.offer([placement], frequencyCappingConstraints=[cap], name="capped")
    other = api.offer([placement], name="other")
    fallback = api.offer([placement], kind="fallback")
    decision = api.decision([placement], api.collection([capped, other]), fallback, "live")
    scope = {"xdm:activityId": decision, "xdm:placementId": placement, "xdm:itemCount": 2}
    for i in range(10):  # ten online decisions (recorded): both offers each time
        body = {
            "xdm:propositionRequests": [scope],
            "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": f"x{i}@example.com"}]}}],
        }
        r = api.client.post("/data/core/ods/decisions", json=body, headers=api.headers)
        assert r.status_code == 200, r.text
    tenant = Tenant(api.org, api.sandbox)
    batch.services.profiles.bulk_upsert(tenant, profile_docs(60))  # 40 in the audience
    job = batch.post(workload(scope)).json()["@id"]
    done = batch.wait(job)
    assert done["ode:status"] == "COMPLETED", done
    assert done["nextoffer:summary"]["offers"] == {capped: 15, other: 40}
    # the counters now hold online and batch proposals together: the cap is spent
    r = api.client.post(
        "/data/core/ods/decisions",
        json={
            "xdm:propositionRequests": [scope],
            "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": "late@example.com"}]}}],
        },
        headers=api.headers,
    )
    ids = [o["xdm:id"] for o in r.json()["xdm:propositions"][0]["xdm:options"]]
    assert ids == [other]


def test_per_profile_caps_apply_through_the_api_and_count_for_online(make_batch) -> None:
    """A stored profile that used its cap online does not get the offer in the job; the job's
    proposals count toward the same per-profile counters online decisions read."""
    batch = make_batch(0)
    api = batch.api
    placement = api.placement()
    cap = {"enabled": True, "limit": 1, "scope": "profile", "entity": "offer"}
    capped = api.offer(
        [placement], frequencyCappingConstraints=[cap], rank={"priority": 9}, name="capped"
    )
    other = api.offer([placement], name="other")
    fallback = api.offer([placement], kind="fallback")
    decision = api.decision([placement], api.collection([capped, other]), fallback, "live")
    scope = {"xdm:activityId": decision, "xdm:placementId": placement}
    tenant = Tenant(api.org, api.sandbox)
    batch.services.profiles.bulk_upsert(tenant, profile_docs(6))  # users 0, 1, 3, 4 are members

    def online(email: str) -> list[str]:
        body = {
            "xdm:propositionRequests": [scope],
            "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": email}]}}],
        }
        r = api.client.post("/data/core/ods/decisions", json=body, headers=api.headers)
        assert r.status_code == 200, r.text
        return [o["xdm:id"] for o in r.json()["xdm:propositions"][0]["xdm:options"]]

    assert online("user0@example.com") == [capped]  # user0's one allowed proposal, used online
    job = batch.post(workload(scope)).json()["@id"]
    done = batch.wait(job)
    assert done["ode:status"] == "COMPLETED", done
    rows = pq.read_table(batch.output_file(done)).to_pylist()
    got = {row["identityId"]: [o["id"] for o in row["offers"]] for row in rows}
    assert got == {
        "user0@example.com": [other],
        "user1@example.com": [capped],
        "user3@example.com": [capped],
        "user4@example.com": [capped],
    }
    # the batch's proposals are counted: those members' one proposal is now used
    assert online("user1@example.com") == [other]
    assert online("user2@example.com") == [capped]  # not in the audience: untouched
