"""Per-profile caps in batch: the online counters, read inline and moved at publish."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from nextoffer.api.app import create_app
from nextoffer.batch.batch_service import library_for
from nextoffer.batch.executors.local import LocalExecutor
from nextoffer.batch.runner import run_batch
from nextoffer.batch.sources import ParquetSource, StoreSource
from nextoffer.cli import app
from nextoffer.engine import ScopeRequest
from nextoffer.store.database import Database
from nextoffer.tenants import Tenant
from tests.batch.conftest import Demo
from tests.batch.profiles import AUDIENCE, profile_docs, write_parquet
from tests.conftest import build_services
from tests.helpers import Api, assert_problem

DECIDE = "/data/core/ods/decisions"


def per_profile_library(api: Api, limit: int) -> tuple[dict, str, str]:
    """Offer A (preferred, capped at `limit` per profile) beats B whenever A is not capped."""
    placement = api.placement()
    cap = {"enabled": True, "limit": limit, "scope": "profile", "entity": "offer"}
    a = api.offer(
        [placement], frequencyCappingConstraints=[cap], rank={"priority": 9}, name="capped A"
    )
    b = api.offer([placement], name="free B")
    fallback = api.offer([placement], kind="fallback")
    decision = api.decision([placement], api.collection([a, b]), fallback, "live")
    return {"xdm:activityId": decision, "xdm:placementId": placement}, a, b


def decide_online(api: Api, scope: dict, email: str) -> list[str]:
    """One recorded online decision for the profile with this primary e-mail; its offer ids."""
    body = {
        "xdm:propositionRequests": [scope],
        "xdm:profiles": [{"xdm:identityMap": {"email": [{"xdm:id": email}]}}],
    }
    r = api.client.post(DECIDE, json=body, headers=api.headers)
    assert r.status_code == 200, r.text
    return [o["xdm:id"] for o in r.json()["xdm:propositions"][0]["xdm:options"]]


def first_offers(path: Path) -> dict[str, str | None]:
    """Proposed offer per identity (one scope, one item)."""
    rows = pq.read_table(path, columns=["identityId", "offers"]).to_pylist()
    return {r["identityId"]: (r["offers"][0]["id"] if r["offers"] else None) for r in rows}


def test_a_profile_at_its_limit_does_not_get_the_offer_and_the_batch_counts_for_online(
    demo: Demo, tmp_path: Path
) -> None:
    with TestClient(create_app(services_=demo.services)) as client:
        api = Api(client, demo.tenant.org, demo.tenant.sandbox)
        scope, a, b = per_profile_library(api, 2)
        for _ in range(2):  # user0 uses up its cap online; user1 uses half of it
            assert decide_online(api, scope, "user0@example.com") == [a]
        assert decide_online(api, scope, "user1@example.com") == [a]

        request = ScopeRequest(scope["xdm:activityId"], scope["xdm:placementId"])
        library = library_for(demo.services.decisions, demo.tenant, [request], lambda i, f: f)
        plan = replace(demo.plan((request,), batch_size=4), sandbox_id=library.sandbox_id)
        source = ParquetSource(write_parquet(tmp_path / "in.parquet", profile_docs(12)))
        store = demo.services.capping.store
        outputs = []
        for workers in (0, 1, 2):  # in process, one worker, two workers: the same rows
            out = tmp_path / f"w{workers}.parquet"
            summary = run_batch(
                replace(plan, job_id=plan.job_id), source, LocalExecutor(workers), out
            )
            outputs.append(out)
            assert summary.profile_counts == 0  # no store: nothing counted
        # with the counter store: user0 is at its limit, everyone else still gets A
        counted = tmp_path / "counted.parquet"
        summary = run_batch(plan, source, LocalExecutor(2), counted, counter_store=store)
        offers = first_offers(counted)
        assert offers["user0@example.com"] == b
        assert offers["user1@example.com"] == a
        members = [f"user{i}@example.com" for i in range(12) if i % 3 != 2]
        assert sorted(offers) == sorted(members)
        assert all(offers[m] == a for m in members if m != "user0@example.com")
        assert summary.profile_counts == len(members) - 1
        assert summary.as_dict()["profileCounts"] == len(members) - 1

        # the batch proposal counted: user1 (online 1 + batch 1) is now at 2, user3 at 1
        assert decide_online(api, scope, "user1@example.com") == [b]
        assert decide_online(api, scope, "user3@example.com") == [a]
        assert decide_online(api, scope, "user3@example.com") == [b]

        # worker count never changes the rows (reading the same counters)
        again = [tmp_path / "again1.parquet", tmp_path / "again2.parquet"]
        for workers, out in zip((1, 2), again, strict=True):
            run_batch(plan, source, LocalExecutor(workers), out)
        assert pq.read_table(again[0]).equals(pq.read_table(again[1]))
        first = [pq.read_table(p) for p in outputs]
        assert first[0].equals(first[1]) and first[1].equals(first[2])


def test_a_failed_job_adds_no_per_profile_counts(demo: Demo, tmp_path: Path) -> None:
    with TestClient(create_app(services_=demo.services)) as client:
        api = Api(client, demo.tenant.org, demo.tenant.sandbox)
        scope, a, _ = per_profile_library(api, 1)
        request = ScopeRequest(scope["xdm:activityId"], scope["xdm:placementId"])
        library = library_for(demo.services.decisions, demo.tenant, [request], lambda i, f: f)
        plan = replace(demo.plan((request,)), sandbox_id=library.sandbox_id)
        source = ParquetSource(write_parquet(tmp_path / "in.parquet", profile_docs(3)))

        def refuse(_summary: object) -> None:
            raise RuntimeError("not now")

        with pytest.raises(RuntimeError, match="not now"):
            run_batch(
                plan,
                source,
                LocalExecutor(0),
                tmp_path / "out.parquet",
                counter_store=demo.services.capping.store,
                before_publish=refuse,
            )
        assert not (tmp_path / "out.parquet").exists()
        assert decide_online(api, scope, "user0@example.com") == [a]  # nothing was counted


def test_an_ode_workload_is_not_found_under_another_container(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'api.db'}")
    database.upgrade()
    services = build_services(database, batch_output_dir=str(tmp_path / "out"), batch_workers=0)
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        api = Api(client, "ode@AdobeOrg", "prod")
        scope, _, _ = per_profile_library(api, 1)
        services.profiles.bulk_upsert(Tenant(api.org, api.sandbox), profile_docs(3))
        body = {
            "xdm:segmentIds": [AUDIENCE],
            "xdm:dataSetId": "ds1",
            "xdm:propositionRequests": [scope],
        }
        mine = "/data/core/ode/c-1/workloads/decisions"
        created = client.post(mine, json=body, headers=api.headers)
        assert created.status_code == 200, created.text
        job = created.json()["@id"]
        assert client.get(f"{mine}/{job}", headers=api.headers).status_code == 200
        other = client.get(f"/data/core/ode/c-2/workloads/decisions/{job}", headers=api.headers)
        problem = assert_problem(other, 404, "not-found", parameter="id")
        assert "container c-2" in problem["detail"]
    services.batch.stop()
    database.dispose()


def test_the_cli_reads_and_moves_the_counters_online_decisions_use(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    database = Database(f"sqlite:///{db}")
    database.upgrade()
    services = build_services(database)
    with TestClient(create_app(services_=services)) as client:
        api = Api(client, "cli@AdobeOrg", "prod")
        scope, a, b = per_profile_library(api, 1)
        assert decide_online(api, scope, "user0@example.com") == [a]
    profiles = write_parquet(tmp_path / "in.parquet", profile_docs(6))
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        app,
        ["batch", "--sandbox", "prod", "--audience", AUDIENCE, "--db", db, "--org",
         "cli@AdobeOrg", "--scope", f"{scope['xdm:activityId']},{scope['xdm:placementId']}",
         "--profiles", str(profiles), "--out", str(out), "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert first_offers(out) == {
        "user0@example.com": b,
        "user1@example.com": a,
        "user3@example.com": a,
        "user4@example.com": a,
    }
    with TestClient(create_app(services_=services)) as client:
        api = Api(client, "cli@AdobeOrg", "prod")
        assert decide_online(api, scope, "user1@example.com") == [b]
        assert decide_online(api, scope, "user5@example.com") == [a]  # not in the audience
    database.dispose()


def test_stored_profiles_count_as_the_stored_profile(demo: Demo, tmp_path: Path) -> None:
    """From the profile store, the counters are the stored profile's, as online."""
    with TestClient(create_app(services_=demo.services)) as client:
        api = Api(client, demo.tenant.org, demo.tenant.sandbox)
        scope, a, b = per_profile_library(api, 1)
        demo.services.profiles.bulk_upsert(demo.tenant, profile_docs(6))
        assert decide_online(api, scope, "user0@example.com") == [a]
        request = ScopeRequest(scope["xdm:activityId"], scope["xdm:placementId"])
        library = library_for(demo.services.decisions, demo.tenant, [request], lambda i, f: f)
        plan = replace(demo.plan((request,)), sandbox_id=library.sandbox_id)
        source = StoreSource(demo.services.profiles, demo.tenant, with_events=False)
        out = tmp_path / "out.parquet"
        run_batch(plan, source, LocalExecutor(1), out, counter_store=demo.services.capping.store)
        offers = first_offers(out)
        assert offers.pop("user0@example.com") == b
        assert set(offers.values()) == {a}
        assert decide_online(api, scope, "user3@example.com") == [b]
