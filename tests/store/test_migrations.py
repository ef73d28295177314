"""Migrations create the schema from nothing and can be rolled back, on both dialects."""

from __future__ import annotations

import sqlalchemy as sa

from nextoffer.store.database import Database
from tests.conftest import POSTGRES_URL, _postgres_schema_url


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def _round_trip(db: Database) -> None:
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision() is not None
    assert {
        "sandboxes",
        "library_objects",
        "library_references",
        "library_tombstones",
        "datastreams",
    } <= _tables(db)
    db.downgrade("base")
    assert db.current_revision() is None
    assert "library_objects" not in _tables(db)
    db.upgrade()
    assert db.current_revision() == db.head_revision()


def test_sqlite_migrations_round_trip(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    _round_trip(db)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_postgresql_migrations_round_trip() -> None:
    import uuid

    import pytest

    if not POSTGRES_URL:
        pytest.skip("PostgreSQL suite: set NEXTOFFER_TEST_POSTGRES_URL (CI always does)")
    schema = f"nextoffer_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sa.engine.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        db = Database(_postgres_schema_url(POSTGRES_URL, schema))
        _round_trip(db)
        db.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
