"""The counter store named by the settings (`NEXTOFFER_CAPPING_STORE`): sql, redis or memory."""

from __future__ import annotations

from collections.abc import Callable

from nextoffer.capping.store import CounterStore
from nextoffer.config import CAPPING_STORES, ConfigError, Settings, choice
from nextoffer.store.database import Database


def _sql(settings: Settings, db: Database) -> CounterStore:
    from nextoffer.store.capping_sql import SqlStore

    return SqlStore(db)


def _redis(settings: Settings, db: Database) -> CounterStore:
    from nextoffer.store.capping_redis import RedisStore

    if not settings.redis_url:
        raise ConfigError("NEXTOFFER_CAPPING_STORE=redis needs NEXTOFFER_REDIS_URL")
    return RedisStore(settings.redis_url, settings.capping_key_prefix)


def _memory(settings: Settings, db: Database) -> CounterStore:
    from nextoffer.capping.memory_store import MemoryStore

    return MemoryStore()


STORES: dict[str, Callable[[Settings, Database], CounterStore]] = {
    "sql": _sql,
    "redis": _redis,
    "memory": _memory,
}


def counter_store(settings: Settings, db: Database) -> CounterStore:
    """The configured store; an unknown name is a ConfigError listing the valid ones."""
    return STORES[choice("NEXTOFFER_CAPPING_STORE", settings.capping_store, CAPPING_STORES)](
        settings, db
    )
