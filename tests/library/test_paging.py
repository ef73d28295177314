"""Cursor paging: every object exactly once, whatever the page size, filter and sort."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api

N = 1000


@pytest.fixture(scope="module")
def thousand(request: pytest.FixtureRequest, app) -> dict[str, Any]:
    """1,000 tags in one tenant, with sort keys full of ties and some missing values."""
    from tests.conftest import new_org
    from tests.helpers import AsgiClient

    client = AsgiClient(app)
    request.addfinalizer(client.close)
    api = Api(client, new_org(), "prod")
    docs = []
    for i in range(N):
        body: dict[str, Any] = {
            "name": f"tag-{i:04d}",
            "_acme": {"bucket": i % 7, "group": f"g{i % 3}"},
        }
        if i % 5:
            body["description"] = f"d{i % 11}"
        r = api.post("/tags", body)
        assert r.status_code == 201, r.text
        docs.append({**body, "id": r.json()["id"]})
    return {"api": api, "docs": docs}


def walk(api: Api, first: str) -> tuple[list[str], list[dict]]:
    ids: list[str] = []
    pages = []
    href: str | None = first
    while href:
        r = api.get(href)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        assert page["count"] == len(page["results"])
        ids += [x["id"] for x in page["results"]]
        href = page["_links"].get("next", {}).get("href")
        assert len(pages) <= N + 1, "paging does not end"
    return ids, pages


def expected(docs: list[dict], keep: Any, key: Any) -> list[str]:
    chosen = sorted((d for d in docs if keep(d)), key=lambda d: d["id"])
    return [d["id"] for d in sorted(chosen, key=key)]


def test_every_limit_sees_each_object_once_with_filter_and_sort(thousand: dict[str, Any]) -> None:
    api, docs = thousand["api"], thousand["docs"]
    # bucket >= 2, descending bucket then ascending group, ties broken by id
    want = expected(
        docs,
        lambda d: d["_acme"]["bucket"] >= 2,
        lambda d: (-d["_acme"]["bucket"], d["_acme"]["group"]),
    )
    query = "property=_acme.bucket>=2&orderby=-_acme.bucket,_acme.group"
    for limit in range(1, N + 1):
        ids, pages = walk(api, f"/tags?{query}&limit={limit}")
        assert ids == want, f"limit {limit}"
        assert all(p["total"] == len(want) for p in pages)
        assert all(p["count"] == limit for p in pages[:-1])
        assert ("prev" in pages[-1]["_links"]) == (len(pages) > 1)


@pytest.mark.parametrize(
    ("query", "keep", "key"),
    [
        ("orderby=name", lambda d: True, lambda d: d["name"]),
        ("orderby=-name", lambda d: True, lambda d: tuple(-ord(c) for c in d["name"])),
        # a missing description sorts last ascending (numbers, then strings, then missing)
        (
            "orderby=description,-_acme.bucket",
            lambda d: True,
            lambda d: (
                d.get("description") is None,
                d.get("description") or "",
                -d["_acme"]["bucket"],
            ),
        ),
        (
            "property=!description&property=_acme.group==g1&orderby=_acme.bucket",
            lambda d: "description" not in d and d["_acme"]["group"] == "g1",
            lambda d: d["_acme"]["bucket"],
        ),
        (
            "property=name~TAG-0[0-4].*,_acme.bucket!=3&orderby=-modified",
            lambda d: d["name"] < "tag-0500" and d["_acme"]["bucket"] != 3,
            None,
        ),
        ("property=description", lambda d: "description" in d, None),
    ],
)
@pytest.mark.parametrize("limit", [1, 7, 50, 999, 1000])
def test_filters_and_sorts_combine_with_paging(
    thousand: dict[str, Any], query: str, keep: Any, key: Any, limit: int
) -> None:
    api, docs = thousand["api"], thousand["docs"]
    ids, _ = walk(api, f"/tags?{query}&limit={limit}")
    if key is None:  # -modified: creation order reversed, compare as sets and by count
        assert sorted(ids) == sorted(expected(docs, keep, lambda d: 0))
    else:
        assert ids == expected(docs, keep, key)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("limit", [1, 3, 64, 1000])
def test_prev_links_walk_back_over_the_same_pages(thousand: dict[str, Any], limit: int) -> None:
    api = thousand["api"]
    forward, pages = walk(api, f"/tags?orderby=_acme.bucket,name&limit={limit}")
    backward: list[str] = []
    page = pages[-1]
    backward = [x["id"] for x in page["results"]]
    while "prev" in page["_links"]:
        page = api.get(page["_links"]["prev"]["href"]).json()
        assert page["count"] == limit
        backward = [x["id"] for x in page["results"]] + backward
    assert backward == forward
