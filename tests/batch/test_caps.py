"""Total caps across a batch: honoured exactly, and the same rows whatever the workers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.batch.executors.local import LocalExecutor
from nextoffer.batch.runner import run_batch
from nextoffer.batch.sources import ParquetSource
from nextoffer.engine import ScopeRequest
from tests.batch.conftest import Demo
from tests.batch.profiles import profile_docs, write_parquet
from tests.helpers import Api


def capped_library(demo: Demo, limit: int) -> tuple[ScopeRequest, str, str]:
    """Offers A (capped at `limit` in total) and B tie on priority; ties go either way."""
    with TestClient(create_app(services_=demo.services)) as client:
        api = Api(client, demo.tenant.org, demo.tenant.sandbox)
        placement = api.placement()
        cap = {"enabled": True, "limit": limit, "scope": "global", "entity": "offer"}
        a = api.offer([placement], frequencyCappingConstraints=[cap], name="capped A")
        b = api.offer([placement], name="free B")
        fallback = api.offer([placement], kind="fallback")
        decision = api.decision([placement], api.collection([a, b]), fallback, status="live")
    return ScopeRequest(decision, placement), a, b


def counts(path: Path) -> Counter[str]:
    rows = pq.read_table(path, columns=["offers"]).column("offers").to_pylist()
    return Counter(o["id"] for offers in rows for o in offers)


def test_a_total_cap_of_1000_over_10000_profiles_yields_exactly_1000(
    demo: Demo, tmp_path: Path
) -> None:
    scope, a, b = capped_library(demo, 1000)
    docs = profile_docs(15_000)  # every third has exited: 10,000 members
    source = ParquetSource(write_parquet(tmp_path / "in.parquet", docs))
    plan = demo.plan((scope,), batch_size=500)
    one = run_batch(plan, source, LocalExecutor(0), tmp_path / "one.parquet")
    two = run_batch(plan, source, LocalExecutor(2), tmp_path / "two.parquet")
    assert one.profiles == 10_000
    assert counts(tmp_path / "one.parquet") == {a: 1000, b: 9000}
    assert one.offers == {a: 1000, b: 9000}
    assert one.capped == {f"{a}#0": 1000}
    # the same rows, whatever the worker count: caps are charged in input order
    assert pq.read_table(tmp_path / "one.parquet").equals(pq.read_table(tmp_path / "two.parquet"))
    assert two.offers == one.offers
    # profiles that preferred A after the cap ran out were decided again, and got B
    assert one.redecided + two.redecided > 0

    other_seed = run_batch(
        demo.plan((scope,), seed=5), source, LocalExecutor(0), tmp_path / "seed.parquet"
    )
    assert other_seed.offers == {a: 1000, b: 9000}
    assert not pq.read_table(tmp_path / "seed.parquet").equals(
        pq.read_table(tmp_path / "one.parquet")
    ), "another seed breaks the ties between A and B otherwise"


@pytest.fixture
def capped(demo: Demo, tmp_path_factory: pytest.TempPathFactory):
    scope, a, b = capped_library(demo, 37)
    path = write_parquet(tmp_path_factory.mktemp("in") / "in.parquet", profile_docs(300))
    return demo, scope, a, b, ParquetSource(path)


@given(batch_size=st.integers(1, 120))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_allocation_does_not_depend_on_how_profiles_are_batched(
    capped, tmp_path_factory: pytest.TempPathFactory, batch_size: int
) -> None:
    demo, scope, a, _, source = capped
    out = tmp_path_factory.mktemp("out")
    reference = run_batch(
        demo.plan((scope,), batch_size=1000), source, LocalExecutor(0), out / "ref.parquet"
    )
    batched = run_batch(
        demo.plan((scope,), batch_size=batch_size), source, LocalExecutor(0), out / "b.parquet"
    )
    assert pq.read_table(out / "ref.parquet").equals(pq.read_table(out / "b.parquet"))
    assert batched.offers[a] == reference.offers[a] == 37
    assert reference.profiles == 200
