"""`SqlLibraryStore`: the library's ports over SQL (one transaction per write, at one revision)."""

from __future__ import annotations

import pytest

from nextoffer.records.library import ObjectRow
from nextoffer.store.database import Database
from nextoffer.store.library_repo import SqlLibraryStore
from tests.conftest import new_org


def _row(object_id: str, revision: int, etag: int = 1) -> ObjectRow:
    doc = {"id": object_id, "name": object_id, "etag": etag}
    return ObjectRow(object_id, "tag", etag, revision, "t", "t", "c", "c", doc)


def test_a_write_that_fails_leaves_nothing_not_even_its_sandbox(database: Database) -> None:
    store = SqlLibraryStore(database)
    org = new_org()
    with pytest.raises(RuntimeError), store.writing(org, "prod") as tx:
        tx.insert(_row("t1", tx.revision))
        raise RuntimeError("the service refused the write")
    assert store.find_sandbox(org, "prod") is None
    with store.writing(org, "prod") as tx:
        assert tx.revision == 1
        tx.insert(_row("t1", tx.revision))
    sandbox = store.find_sandbox(org, "prod")
    assert sandbox is not None and store.get(sandbox.pk, "t1") == _row("t1", 1)


def test_each_write_takes_the_next_revision_and_updates_check_the_etag(database: Database) -> None:
    store = SqlLibraryStore(database)
    org = new_org()
    with store.writing(org, "prod") as tx:
        tx.insert(_row("a", tx.revision))
        tx.insert(_row("b", tx.revision))
        tx.replace_references("b", [("/ref", "a")], new=True)
    with store.writing(org, "prod") as tx:
        assert tx.revision == 2
        assert set(tx.get_many(["a", "b", "nope"])) == {"a", "b"}
        assert tx.count(["tag"]) == 2 and tx.count_with_field("tag", "name", "a") == 1
        assert tx.referrers("a") == [("b", "tag", "/ref")]
        assert not tx.update(_row("a", tx.revision, etag=2), expected_etag=5)
        assert tx.update(_row("a", tx.revision, etag=2), expected_etag=1)
        tx.replace_references("b", [])
        tx.delete("b", "tag")
    sandbox = store.find_sandbox(org, "prod")
    assert sandbox is not None
    assert [(r.id, r.etag, r.revision) for r in store.all_objects(sandbox.pk)] == [("a", 2, 2)]
