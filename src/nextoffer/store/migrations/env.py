"""Alembic environment: runs against the connection nextoffer hands over (see store/database.py)."""

from __future__ import annotations

from alembic import context

from nextoffer.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - nextoffer always passes its own connection
    raise RuntimeError(
        "run migrations through `nextoffer db upgrade`, which provides the connection"
    )

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
