"""The `postgres` and `redis` markers mean what they say (tests/conftest.py applies them).

`pytest -m 'not postgres'` must run without a PostgreSQL server and `-m 'not redis'` without
Redis: every test that reaches a server, through a backend parameter (`[postgresql]`,
`[sql-postgresql]`, `[redis]`), a fixture (`postgres_db`) or its own code
(`postgres_database(...)`, `redis_url()`), carries the marker; no other test does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FILES = [
    "tests/capping/test_api.py",  # `database` backends; redis_url() in a test body
    "tests/capping/test_store_contract.py",  # `store` parameters; redis_url() in test bodies
    "tests/store/test_decision_event_writers.py",  # postgres_database(...) in a test body
    "tests/store/test_migrations.py",  # POSTGRES_URL in a test body
    "tests/engine/test_catalog.py",  # no server
]


COLLECT = """
import json, sys
import pytest

class Ids:
    def pytest_collection_finish(self, session):
        self.ids = [item.nodeid for item in session.items]

result = {}
for expr in json.loads(sys.argv[1]):
    ids = Ids()
    marker = ["-m", expr] if expr else []
    code = pytest.main(["--collect-only", "-qq", "-n", "0", "-p", "no:cacheprovider", *marker,
                        *sys.argv[2:]], plugins=[ids])
    assert code == 0, code
    result[expr] = ids.ids
print("RESULT" + json.dumps(result))
"""


def collect(*exprs: str) -> dict[str, set[str]]:
    """The ids `pytest --collect-only -m EXPR` selects among FILES, for each EXPR ('' = all)."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, json.dumps(exprs), *FILES],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    found = json.loads(done.stdout.rpartition("RESULT")[2])
    return {expr: set(ids) for expr, ids in found.items()}


POSTGRES_IN_THEIR_CODE = {
    "tests/store/test_decision_event_writers.py::"
    "test_on_postgresql_a_value_too_long_is_refused_alone",
    "tests/store/test_migrations.py::test_postgresql_migrations_round_trip",
}
REDIS_IN_THEIR_CODE = {
    "tests/capping/test_store_contract.py::test_redis_counters_expire_with_their_window",
    "tests/capping/test_store_contract.py::test_the_redis_store_reconnects_when_its_connection_drops",
    "tests/capping/test_api.py::test_a_redis_store_from_the_settings_uses_its_prefix[sqlite]",
    "tests/capping/test_api.py::test_a_redis_store_from_the_settings_uses_its_prefix[postgresql]",
}


def params(test_id: str) -> list[str]:
    """The parameter ids of a test: `...[sql-postgresql]` -> ['sql', 'postgresql']."""
    return test_id.partition("[")[2].rstrip("]").split("-")


def test_postgres_and_redis_markers_select_exactly_the_tests_of_those_servers() -> None:
    got = collect("", "postgres", "not postgres", "redis", "not redis")
    everything, postgres, redis = got[""], got["postgres"], got["redis"]

    assert postgres == {t for t in everything if "postgresql" in params(t)} | POSTGRES_IN_THEIR_CODE
    assert redis == {t for t in everything if "redis" in params(t)} | REDIS_IN_THEIR_CODE
    assert got["not postgres"] == everything - postgres
    assert got["not redis"] == everything - redis
    assert "tests/engine/test_catalog.py" not in {t.split("::")[0] for t in postgres | redis}
