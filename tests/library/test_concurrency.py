"""Concurrent writers never lose an update: transactions and If-Match hold under load."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from tests.helpers import Api


def _clients(api: Api, app, n: int) -> list[Api]:
    return [
        Api(TestClient(app, raise_server_exceptions=False), api.org, api.sandbox) for _ in range(n)
    ]


def test_concurrent_patches_without_if_match_all_land(api: Api, app) -> None:
    placement = api.placement()
    offer = api.offer([placement], characteristics={})
    workers = _clients(api, app, 16)

    def add(i: int) -> int:
        op = [{"op": "add", "path": f"/characteristics/k{i}", "value": str(i)}]
        return workers[i].patch(f"/offers/{offer}?offer-type=personalized", op).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(add, range(16)))
    assert statuses == [200] * 16
    final = api.get(f"/offers/{offer}?offer-type=personalized").json()
    assert final["characteristics"] == {f"k{i}": str(i) for i in range(16)}
    assert final["etag"] == 17


def test_concurrent_patches_with_the_same_if_match_let_exactly_one_win(api: Api, app) -> None:
    tag = api.tag("original")
    workers = _clients(api, app, 8)

    def rename(i: int) -> int:
        op = [{"op": "replace", "path": "/name", "value": f"writer {i}"}]
        return workers[i].patch(f"/tags/{tag}", op, headers={"If-Match": '"1"'}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(rename, range(8)))
    assert statuses == [200] + [412] * 7
    final = api.get(f"/tags/{tag}").json()
    assert final["etag"] == 2 and final["name"].startswith("writer ")


def test_concurrent_creates_get_distinct_ids_and_are_all_listed(api: Api, app) -> None:
    workers = _clients(api, app, 8)

    def create(i: int) -> str:
        return workers[i].create("/tags", {"name": f"t{i}"})

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(8)))
    assert len(set(ids)) == 8
    listed = api.get("/tags?limit=100").json()
    assert sorted(x["id"] for x in listed["results"]) == sorted(ids)
