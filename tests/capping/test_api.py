"""Capping through the Decisioning API (real ASGI app, SQLite and PostgreSQL, SQL counters)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from nextoffer.capping.memory_store import MemoryStore
from nextoffer.capping.store import Increment, Reservation
from nextoffer.config import ConfigError, Settings
from nextoffer.library.portable import import_library
from nextoffer.store.capping_redis import RedisStore
from nextoffer.store.capping_sql import SqlStore
from nextoffer.store.capping_stores import counter_store
from nextoffer.tenants import Actor, Tenant
from tests.capping.conftest import redis_url
from tests.capping.library import CAPPED, OTHER, P1, decision_body, portable, proposed, rule
from tests.helpers import Api

DECIDE = "/data/core/ods/decisions"


def load(api: Api, services, rules: list[dict], legacy: dict | None = None) -> None:
    import_library(
        services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), portable(rules, legacy)
    )


def decide(api: Api, **extra: object) -> list[str]:
    r = api.client.post(DECIDE, json=decision_body(P1, **extra), headers=api.headers)
    assert r.status_code == 200, r.text
    return proposed(r.json())


def test_the_decisioning_api_is_capped(api: Api, services) -> None:
    load(api, services, [rule(2, per_profile=True, unit="week")])
    assert [decide(api) for _ in range(3)] == [[CAPPED], [CAPPED], [OTHER]]
    assert decide(api, email="bob@example.com") == [CAPPED]


def test_dry_runs_and_explanations_never_move_counters(api: Api, services) -> None:
    load(api, services, [rule(1, per_profile=True)])
    for _ in range(3):
        assert decide(api, **{"xdm:dryRun": True}) == [CAPPED]
        assert decide(api, **{"nextoffer:explain": True}) == [CAPPED]
    assert decide(api) == [CAPPED]
    assert decide(api, **{"xdm:dryRun": True}) == [OTHER]


def test_the_explanation_names_the_rule_that_capped(api: Api, services) -> None:
    load(api, services, [rule(9, event="click"), rule(1, per_profile=True, unit="month")])
    decide(api)
    body = decision_body(P1, **{"nextoffer:explain": True})
    r = api.client.post(DECIDE, json=body, headers=api.headers)
    [prop] = r.json()["xdm:propositions"]
    [capped] = [c for c in prop["nextoffer:explanation"]["candidates"] if c["offer"] == CAPPED]
    assert capped["reason"] == "capped"
    rule_fields = capped["rule"]
    assert {k: rule_fields[k] for k in ("cappingRule", "event", "entity", "scope", "limit")} == {
        "cappingRule": 1,
        "event": "decision",
        "entity": "profile",
        "scope": "all placements",
        "limit": 1,
    }
    assert rule_fields["window"] == "every 1 month"
    assert rule_fields["count"] == 1
    assert capped["detail"].startswith(
        "capping rule 1 is exhausted: at most 1 decision events per profile, across all "
        "placements, every 1 month; 1 counted from "
    )


def test_legacy_caps_cap_through_the_api(api: Api, services) -> None:
    load(api, services, [], legacy={"globalCap": 5, "profileCap": 1})
    assert decide(api) == [CAPPED]
    assert decide(api) == [OTHER]
    assert decide(api, email="bob@example.com") == [CAPPED]


class CountingStore(MemoryStore):
    """A real memory store that also counts how often it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def read(self, keys: Sequence[str]) -> list[int]:
        self.calls.append("read")
        return super().read(keys)

    def reserve(self, increments: Sequence[Increment]) -> Reservation:
        self.calls.append("reserve")
        return super().reserve(increments)


@pytest.fixture
def counting(services) -> CountingStore:
    store = CountingStore()
    previous = services.capping.store
    services.capping.store = store
    yield store
    services.capping.store = previous


def test_uncapped_decisions_never_reach_the_store(api: Api, services, counting) -> None:
    load(api, services, [])
    assert decide(api) == [CAPPED]
    assert decide(api, **{"xdm:dryRun": True}) == [CAPPED]
    assert decide(api, **{"nextoffer:explain": True}) == [CAPPED]
    assert counting.calls == []


def test_a_decision_reserves_in_one_store_call(api: Api, services, counting) -> None:
    load(api, services, [rule(1)])
    assert decide(api) == [CAPPED]
    assert counting.calls == ["reserve"]
    # exhausted: known at once, so the next decision needs no store call at all
    assert decide(api) == [OTHER]
    assert counting.calls == ["reserve"]
    # a dry run reads the counters once
    assert decide(api, **{"xdm:dryRun": True}) == [OTHER]
    assert counting.calls == ["reserve", "read"]


def test_the_capping_store_comes_from_the_settings(database) -> None:
    assert isinstance(counter_store(Settings(capping_store="memory"), database), MemoryStore)
    sql = counter_store(Settings(), database)
    assert isinstance(sql, SqlStore)
    sql.close()
    with pytest.raises(ConfigError, match="must be one of sql, redis, memory, not 'mongo'"):
        counter_store(Settings(capping_store="mongo"), database)
    with pytest.raises(ConfigError, match="needs NEXTOFFER_REDIS_URL"):
        counter_store(Settings(capping_store="redis"), database)


def test_capping_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "NEXTOFFER_CAPPING_STORE": "Redis",
            "NEXTOFFER_REDIS_URL": "redis://example:6379/0",
            "NEXTOFFER_CAPPING_KEY_PREFIX": "acme:",
        }
    )
    assert (settings.capping_store, settings.redis_url, settings.capping_key_prefix) == (
        "redis",
        "redis://example:6379/0",
        "acme:",
    )
    assert Settings.from_env({}).capping_store == "sql"
    with pytest.raises(ConfigError, match="NEXTOFFER_CAPPING_STORE must be one of"):
        Settings.from_env({"NEXTOFFER_CAPPING_STORE": "mongo"})
    with pytest.raises(ConfigError, match="needs NEXTOFFER_REDIS_URL"):
        Settings.from_env({"NEXTOFFER_CAPPING_STORE": "redis"})


def test_a_redis_store_from_the_settings_uses_its_prefix(database) -> None:
    store = counter_store(
        Settings(capping_store="redis", redis_url=redis_url(), capping_key_prefix="p:"), database
    )
    assert isinstance(store, RedisStore) and store.prefix == "p:"
    store.close()
