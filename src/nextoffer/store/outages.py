"""Which failures mean "a dependency is down": the one place that tells a database or Redis
outage (a 503 the client may retry) from a bug (a 500).

Only connection-level failures count: PostgreSQL refusing or dropping the connection (no
SQLSTATE, class 08 connection exceptions, class 53 insufficient resources such as "too many
clients", 57P01-57P03 shutdowns, a refused login or a dropped database), a SQLite file that
cannot be opened, and Redis connection errors and timeouts. A lock wait or a statement timeout
is not an outage and is left to whoever handles it.
"""

from __future__ import annotations

import sqlite3

import psycopg
import redis
import sqlalchemy.exc

from nextoffer.errors import DependencyUnavailable

DATABASE, REDIS = "database", "redis"

ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.DBAPIError,
    psycopg.Error,  # the SQL capping store talks to PostgreSQL on connections of its own
    sqlite3.Error,
    redis.RedisError,
)
"""The exception classes among which `unavailable` finds outages."""

_OUTAGE_SQLSTATES = ("08", "28", "3D000", "53", "57P01", "57P02", "57P03")
"""Connection exceptions, refused logins, a database that no longer exists, insufficient
resources (53300: too many clients), server shutdowns."""


def unavailable(exc: BaseException) -> DependencyUnavailable | None:
    """The 503 `exc` stands for, or None when it is not a dependency outage."""
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return DependencyUnavailable.of(REDIS, reason(exc))
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return DependencyUnavailable.of(DATABASE, reason(exc.orig or exc))
        exc = exc.orig if exc.orig is not None else exc
    if _database_down(exc):
        return DependencyUnavailable.of(DATABASE, reason(exc))
    return None


def _database_down(exc: BaseException) -> bool:
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        sqlstate = exc.sqlstate
        # no SQLSTATE: the server never answered (refused, dropped, timed out)
        return sqlstate is None or sqlstate.startswith(_OUTAGE_SQLSTATES)
    if isinstance(exc, sqlite3.OperationalError):
        return "unable to open database" in str(exc)  # the file's directory is gone
    return False


def reason(exc: BaseException) -> str:
    """The first line of an error's message (drivers add hints and SQL on later lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
