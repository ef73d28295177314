"""Snapshots stay consistent with the database across processes, deletes and pruning."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from nextoffer.store import library_repo as repo
from nextoffer.store.snapshots import SnapshotCache
from nextoffer.store.tables import library_tombstones
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow
from tests.helpers import Api


def _pk(services, api: Api) -> int:
    with services.db.read() as conn:
        return repo.find_sandbox(conn, api.org, api.sandbox).pk


def test_a_second_node_sees_writes_and_deletes_through_the_database(api: Api, services) -> None:
    other_node = SnapshotCache(services.db)  # another process would hold its own cache
    first = api.tag("one")
    pk = _pk(services, api)
    assert set(other_node.get(pk).of_kind("tag")) == {first}
    second = api.tag("two")
    api.patch(f"/tags/{first}", [{"op": "replace", "path": "/name", "value": "uno"}])
    snap = other_node.get(pk)
    assert {d["name"] for d in snap.of_kind("tag").values()} == {"uno", "two"}
    api.delete(f"/tags/{second}")
    later = other_node.get(pk)
    assert set(later.of_kind("tag")) == {first}
    assert later.revision > snap.revision
    assert snap.of_kind("tag")[second]["name"] == "two"  # an old snapshot never changes


def test_a_cache_older_than_the_pruned_tombstones_reloads(api: Api, services) -> None:
    cache = SnapshotCache(services.db)
    keep, drop = api.tag("keep"), api.tag("drop")
    pk = _pk(services, api)
    stale = cache.get(pk)
    api.delete(f"/tags/{drop}")
    # age the tombstone past retention; the next delete prunes it
    with services.db.write() as conn:
        conn.execute(
            update(library_tombstones)
            .where(library_tombstones.c.sandbox_pk == pk)
            .values(deleted=format_utc(utcnow() - repo.TOMBSTONE_RETENTION - timedelta(hours=1)))
        )
    extra = api.tag("extra")
    api.delete(f"/tags/{extra}")
    with services.db.read() as conn:
        _, pruned = repo.revision(conn, pk)
    assert pruned > stale.revision
    assert set(cache.get(pk).of_kind("tag")) == {keep}


def test_an_id_deleted_and_imported_again_is_current(api: Api, services) -> None:
    from nextoffer.library.portable import export_library, import_library
    from nextoffer.tenants import Actor

    tag = api.tag("phoenix")
    pk = _pk(services, api)
    cache = SnapshotCache(services.db)
    data = export_library(services.library, Tenant(api.org, api.sandbox))
    assert tag in cache.get(pk).of_kind("tag")
    api.delete(f"/tags/{tag}")
    assert tag not in cache.get(pk).of_kind("tag")
    import_library(services.library, Tenant(api.org, api.sandbox), Actor("a", "b"), data)
    assert cache.get(pk).of_kind("tag")[tag]["name"] == "phoenix"


def test_the_cache_evicts_least_recently_used_sandboxes(api: Api, services) -> None:
    cache = SnapshotCache(services.db, max_sandboxes=1)
    api.tag()
    api.other_sandbox("dev").tag()
    a = _pk(services, api)
    b = _pk(services, api.other_sandbox("dev"))
    first = cache.get(a)
    cache.get(b)
    assert cache.get(a) is not first  # evicted, rebuilt
    assert set(cache.get(a).of_kind("tag")) == set(first.of_kind("tag"))
