"""The Ray executor on a Ray instance started on this machine: the local executor's rows.

Few tests, each doing a lot: Ray takes seconds to start on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nextoffer.batch.executors.local import LocalExecutor
from nextoffer.batch.executors.ray import RayExecutor
from nextoffer.batch.runner import run_batch
from nextoffer.batch.sources import JsonlSource, ParquetSource
from tests.batch.conftest import Demo
from tests.batch.profiles import AUDIENCE, profile_docs, write_jsonl, write_parquet
from tests.batch.test_caps import capped_library, counts

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'nextoffer[ray]'")


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_decides_the_same_rows_as_local_processes_with_total_caps(
    demo: Demo, tmp_path: Path
) -> None:
    scope, a, b = capped_library(demo, 150)
    docs = profile_docs(1500)
    plan = demo.plan((scope,), batch_size=128)
    parquet = ParquetSource(write_parquet(tmp_path / "in.parquet", docs))
    jsonl = JsonlSource(write_jsonl(tmp_path / "in.jsonl", docs))
    local = run_batch(plan, parquet, LocalExecutor(0), tmp_path / "local.parquet")
    on_ray = run_batch(plan, parquet, RayExecutor(2), tmp_path / "ray.parquet")
    spooled = run_batch(plan, jsonl, RayExecutor(2), tmp_path / "spooled.parquet")
    expected = pq.read_table(tmp_path / "local.parquet")
    assert expected.num_rows == 1000
    assert pq.read_table(tmp_path / "ray.parquet").equals(expected)
    assert pq.read_table(tmp_path / "spooled.parquet").equals(expected)
    assert counts(tmp_path / "ray.parquet") == {a: 150, b: 850}
    assert on_ray.offers == spooled.offers == local.offers


def test_the_cli_and_the_api_run_on_ray(demo: Demo, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from nextoffer.api.app import create_app
    from nextoffer.cli import app
    from tests.batch.test_api import HERO, BatchApi, workload
    from tests.conftest import build_services
    from tests.helpers import Api

    profiles = write_parquet(tmp_path / "in.parquet", profile_docs(60))
    hero = f"{HERO['xdm:activityId']}:{HERO['xdm:placementId']}:2"
    outputs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.parquet"
        args = f"--audience {AUDIENCE} --scope {hero} --profiles {profiles} --out {out}"
        result = CliRunner().invoke(
            app,
            [
                "batch",
                "--sandbox",
                demo.tenant.sandbox,
                "--org",
                demo.tenant.org,
                *args.split(),
                "--executor",
                executor,
                "--workers",
                "2",
                "--seed",
                "8",
            ],
            env={"NEXTOFFER_DATABASE_URL": demo.db_url},
        )
        assert result.exit_code == 0, result.output
        outputs[executor] = pq.read_table(out).drop_columns(["propositionId", "timestamp"])
    assert outputs["ray"].num_rows == 40
    assert outputs["ray"].equals(outputs["local"])

    services = build_services(
        demo.services.db,
        batch_output_dir=str(tmp_path / "datasets"),
        batch_executor="ray",
        batch_workers=2,
    )
    services.profiles.bulk_upsert(demo.tenant, profile_docs(60))
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        batch = BatchApi(Api(client, demo.tenant.org, demo.tenant.sandbox), services)
        job = batch.post(workload(**{"nextoffer:seed": 8})).json()
        done = batch.wait(job["@id"])
    assert done["ode:status"] == "COMPLETED", done
    rows = pq.read_table(batch.output_file(done))
    # the store gives profiles ids of its own and its own order: else it is the file's run
    order = [("identityId", "ascending"), ("scopeIndex", "ascending")]
    mine = rows.drop_columns(["propositionId", "timestamp", "profileId"]).sort_by(order)
    assert mine.equals(outputs["local"].drop_columns(["profileId"]).sort_by(order))
