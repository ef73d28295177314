"""Migrations create, from nothing, exactly the schema the code declares, on both dialects;
they roll back to nothing and build the same schema again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import nextoffer.store.batch_jobs
import nextoffer.store.datastreams
import nextoffer.store.decision_event_tables
import nextoffer.store.profile_tables  # noqa: F401  (their tables join `metadata`)
from nextoffer.store.database import Database
from nextoffer.store.tables import metadata
from tests.conftest import POSTGRES_URL, _postgres_schema_url

RAW_SQL_TABLES = {"capping_counters"}
"""Created by a migration but used through SQL statements only (store/capping_sql.py), so no
`Table` declares them: their shape is checked here column by column."""


def _schema(db: Database) -> dict[str, Any]:
    """Every table's columns (name, type, nullable), primary key, indexes and foreign keys."""
    inspector = sa.inspect(db.engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in inspector.get_foreign_keys(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
    }


def _differences(db: Database) -> list[Any]:
    """What autogenerate would change to make the database match the declared tables
    (tables, columns, types, nullability, indexes)."""
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def _round_trip(db: Database) -> None:
    assert db.current_revision() is None
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}

    db.upgrade()
    assert db.current_revision() == db.head_revision() is not None
    schema = _schema(db)
    assert set(schema) == {*metadata.tables, *RAW_SQL_TABLES, "alembic_version"}
    # the declared tables exactly; the raw-SQL ones are all autogenerate would drop
    assert [(d[0], getattr(d[-1], "name", None)) for d in _differences(db)] == [
        ("remove_index", "ix_capping_counters_expires_at"),
        ("remove_table", "capping_counters"),
    ]
    counters = schema["capping_counters"]
    assert [(name, nullable) for name, _, nullable in counters["columns"]] == [
        ("key", False),
        ("count", False),
        ("expires_at", True),
    ]
    assert [t.upper() for _, t, _ in counters["columns"]] == ["TEXT", "BIGINT", "BIGINT"]
    assert counters["primary_key"] == ["key"]
    assert counters["indexes"] == [("ix_capping_counters_expires_at", ("expires_at",), False)]

    db.downgrade("base")
    assert db.current_revision() is None
    assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}

    db.upgrade()
    assert db.current_revision() == db.head_revision()
    assert _schema(db) == schema


def test_sqlite_migrations_round_trip(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    _round_trip(db)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_postgresql_migrations_round_trip() -> None:
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
