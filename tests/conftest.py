"""Shared fixtures: every API test runs on SQLite and on PostgreSQL (real servers, no mocks).

PostgreSQL is used when `NEXTOFFER_TEST_POSTGRES_URL` is set (`.ci/run` sets it and fails when
the server is unreachable); each test session works in a schema of its own and drops it after.
Each test gets a tenant (org) of its own, so tests never see each other's data.
"""

from __future__ import annotations

import dis
import inspect
import os
import sys
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from starlette.testclient import TestClient

from nextoffer import pql
from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import Limits, Settings, parse_credentials
from nextoffer.store.database import Database
from tests.helpers import Api

SPEC_DIR = Path(__file__).resolve().parent / "fixtures" / "spec"
"""Adobe's documented bodies (copied from the shared spec so the suite is self-contained)."""

POSTGRES_URL = os.environ.get("NEXTOFFER_TEST_POSTGRES_URL")

CREDENTIALS = parse_credentials(
    [
        {
            "client_id": "acme-app",
            "api_key": "acme-key",
            "token": "acme-token",
            "user": "marketer@acme",
            "orgs": ["*"],
        },
        {
            "client_id": "limited-app",
            "api_key": "limited-key",
            "token": "limited-token",
            "user": "intern@acme",
            "orgs": {"LIMITED@AdobeOrg": ["dev"]},
        },
    ]
)


MUTATION_RUN = "MUTANT_UNDER_TEST" in os.environ
"""Set by mutmut (`python -m tools.mutate`) in every process it runs tests in."""

settings.register_profile("mutation", deadline=None, derandomize=True, database=None)
if MUTATION_RUN:
    # a mutant must be judged on the same examples as the clean code, and a trampoline's
    # overhead must not count as a kill through hypothesis's 200 ms deadline
    settings.load_profile("mutation")


def clear_process_caches() -> list[str]:
    """Empty every process-wide cache of ours; returns what was cleared.

    Compiled rules (`pql.cache`), generated code (`pql.codegen._compile`) and every other
    `functools` cache in `nextoffer` keep results computed by whichever code ran first. A test
    session that starts in a process where the unmutated code already filled them would run
    a mutant against those results and miss it. Sessions therefore start from empty caches.
    """
    pql.clear_cache()
    cleared = ["nextoffer.pql.cache._entries"]
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "nextoffer" or name.startswith("nextoffer.")):
            continue
        for attr, value in list(vars(module).items()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                if getattr(value, "__module__", name) != name:
                    continue  # imported from elsewhere: cleared under its own module
                value.cache_clear()
                cleared.append(f"{name}.{attr}")
    return cleared


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("NEXTOFFER_KEEP_PROCESS_CACHES") != "1":  # tests/tools/test_mutate.py
        clear_process_caches()


SERVER_NAMES = {"postgres": "POSTGRES_URL", "redis": "REDIS_URL"}
"""A test needs a server when its code reaches the variable naming that server's URL."""


def _globals_read(code: types.CodeType) -> set[str]:
    return {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    }


def _reaches(code: types.CodeType, namespace: dict, name: str, seen: set) -> bool:
    """Whether `code`, or a function of the test suite it calls (followed to any depth), reads
    the global `name`."""
    if code in seen:
        return False
    seen.add(code)
    used = _globals_read(code)
    if name in used:
        return True
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and _reaches(const, namespace, name, seen):
            return True
    for global_name in used:
        target = namespace.get(global_name)
        if isinstance(target, types.FunctionType):
            target = inspect.unwrap(target)  # e.g. a @contextmanager
        if (
            isinstance(target, types.FunctionType)
            and target.__module__.startswith("tests")
            and _reaches(target.__code__, target.__globals__, name, seen)
        ):
            return True
    return False


def server_markers(item: pytest.Item) -> set[str]:
    """`postgres` / `redis` for a test that uses that server: through a parametrized fixture
    or parameter naming it (`[postgresql]`, `[sql-postgresql]`, `[redis]`), through a fixture
    with no parameters whose code reaches it (`postgres_db`), or in its own code
    (`postgres_database(...)`, `redis_url()`)."""
    found: set[str] = set()
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec else ():
        if isinstance(value, str):
            found |= {marker for marker in SERVER_NAMES if marker in value}
    functions = []
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    for defs in fixtureinfo.name2fixturedefs.values() if fixtureinfo else ():
        functions += [d.func for d in defs if not d.params]
    if isinstance(item, pytest.Function):
        functions.append(item.function)
    for marker, name in SERVER_NAMES.items():
        for func in functions:
            func = inspect.unwrap(func)
            code = getattr(func, "__code__", None)
            if code and _reaches(code, func.__globals__, name, set()):
                found.add(marker)
                break
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `postgres` and `redis` markers mean what they say: `-m 'not postgres'` deselects
    every test that uses the PostgreSQL server (tests/tools/test_markers.py)."""
    for item in items:
        for marker in sorted(server_markers(item)):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    return SPEC_DIR


def _postgres_schema_url(base: str, schema: str) -> str:
    url = sa.engine.make_url(base)
    return url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated database of each backend, shared by the session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "library.db"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        yield db
        db.dispose()
        return
    with postgres_database("nextoffer_test") as db:
        yield db


def postgres_url_or_skip() -> str:
    """The PostgreSQL server's URL. Without one the test is skipped: on a developer's machine
    only, since `.ci/run` always sets it and fails when the server cannot be reached."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL suite: set NEXTOFFER_TEST_POSTGRES_URL (CI always does)")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """`postgres_url_or_skip()` as a fixture (and the `postgres` marker with it)."""
    return postgres_url_or_skip()


@contextmanager
def postgres_database(prefix: str) -> Iterator[Database]:
    """A migrated PostgreSQL schema of its own (dropped after); skips without the server."""
    base = postgres_url_or_skip()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sa.engine.make_url(base).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = Database(_postgres_schema_url(base, schema))
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def build_services(db: Database, **overrides: object) -> Services:
    """Services over `db` with the test credentials; `overrides` are Settings fields."""
    settings = Settings(
        **{
            "database_url": str(db.url),
            "credentials": CREDENTIALS,
            "auto_migrate": False,
            "limits": Limits(),
            **overrides,
        }  # type: ignore[arg-type]
    )
    return Services.build(settings, db=db)


@pytest.fixture(scope="session")
def services(database: Database) -> Services:
    return build_services(database)


@pytest.fixture(scope="session")
def app(services: Services):
    return create_app(services_=services)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_api(database: Database) -> Iterator[object]:
    """Build an `Api` on an app with other settings (small limits, open mode, ...)."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> Api:
        app = create_app(services_=build_services(database, **overrides))
        c = TestClient(app, raise_server_exceptions=False)
        clients.append(c)
        return Api(c, new_org(), "prod")

    yield make
    for c in clients:
        c.close()


def new_org() -> str:
    return f"T{uuid.uuid4().hex[:16].upper()}@AdobeOrg"


@pytest.fixture
def api(client: TestClient) -> Api:
    """A client for a fresh tenant of its own, authenticated as acme-app."""
    return Api(client, new_org(), "prod")
