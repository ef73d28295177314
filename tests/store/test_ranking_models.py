"""Model versions and training leases in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from nextoffer.composition import Services
from nextoffer.decisioning.model_training import PeriodicTraining
from nextoffer.ranking import train_auto
from nextoffer.store.database import Database
from nextoffer.store.ranking_models import RankingModelStore
from nextoffer.tenants import Tenant
from tests.conftest import build_services, new_org


def test_a_lease_has_one_holder_until_it_expires(database: Database) -> None:
    store = RankingModelStore(database)
    name = f"test:{uuid.uuid4().hex}"
    assert store.acquire(name, "a", now=1000.0, ttl=60)
    assert not store.acquire(name, "b", now=1030.0, ttl=60)
    assert store.acquire(name, "a", now=1030.0, ttl=60)  # the holder renews it
    assert store.acquire(name, "b", now=1091.0, ttl=60)  # expired: another takes it
    store.release(name, "a")  # not a's any more: nothing happens
    assert not store.acquire(name, "a", now=1100.0, ttl=60)
    store.release(name, "b")
    assert store.acquire(name, "a", now=1100.0, ttl=60)


def test_the_newest_version_serves_and_old_ones_are_pruned(
    database: Database, services: Services
) -> None:
    sandbox, _ = services.library.create_sandbox(Tenant(new_org(), "prod"))
    store = RankingModelStore(database)
    for version in range(1, 8):
        model = train_auto("s1", version, "t", ("a", "b"), {"o": version * 10}, {"o": version})
        store.save(sandbox.pk, model)
    assert store.latest(sandbox.pk)["s1"].version == 7
    assert store.latest(sandbox.pk)["s1"].arm("o").impressions == 70
    assert store.latest_version(sandbox.pk, "s1") == 7
    assert store.latest_version(sandbox.pk, "other") == 0


def test_one_process_of_the_cluster_runs_a_periodic_round(database: Database) -> None:
    one, two = build_services(database), build_services(database)
    first = PeriodicTraining(one.training, interval=3600)
    second = PeriodicTraining(two.training, interval=3600)
    one.training.store.release("train:periodic", "-")  # no effect: not the holder
    ran = [first.run_round(), second.run_round()]
    assert sorted(r is None for r in ran) == [False, True], ran  # exactly one ran its round
    winner = first if ran[0] is not None else second
    assert winner.run_round() is not None  # the holder keeps its turn for the interval
    winner.training.store.release("train:periodic", winner.training.holder)
