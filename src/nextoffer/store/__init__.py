"""Persistence: SQLAlchemy Core tables, the database handle, repositories, snapshots and queries."""
