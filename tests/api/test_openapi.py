"""`/openapi.json` lists every route the app serves, and `/docs` needs nothing from outside."""

from __future__ import annotations

import re

from starlette.routing import Route


def test_every_edge_path_and_its_location_hint_form_is_described(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for version in ("v1", "v2"):
        for prefix in (f"/ee/{version}", f"/ee/{{hint}}/{version}"):
            interact, collect = paths[f"{prefix}/interact"]["post"], paths[f"{prefix}/collect"]
            assert interact["requestBody"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/EdgeRequest"
            }
            assert interact["responses"]["200"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/EdgeResponse"
            }
            assert interact["security"] == [] and "204" in collect["post"]["responses"]


def test_every_served_route_is_in_the_document(app, client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    served = set()
    for route in app.routes:
        if isinstance(route, Route) and not route.path.startswith(("/docs", "/openapi")):
            if route.path == "/" or route.path.startswith("/console"):
                continue  # the console's HTML pages, not API operations
            path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)
            if "{collection}" in path or "{action}" in path or ":bulk" in path:
                continue  # the library's and the Edge's paths are advertised one by one
            served.add(path)
    documented = {re.sub(r"\{\w+\}", "{}", p) for p in paths}
    assert {re.sub(r"\{\w+\}", "{}", p) for p in served} <= documented


def test_probes_have_real_schemas(client) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["Health"]["required"]) == {"status", "version"}
    ready = doc["paths"]["/v1/ready"]["get"]["responses"]
    assert ready["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Ready"
    }


def test_docs_use_only_local_assets(client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    found = {a or b for a, b in urls}
    assert found, page.text
    assert all(u.startswith("/") for u in found), found  # no CDN: works offline
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}
    for url in found:
        r = client.get(url)
        assert r.status_code == 200, url
        kind = next(v for k, v in types.items() if url.endswith(k))
        assert kind in r.headers["content-type"], (url, r.headers["content-type"])


def test_every_operation_that_writes_documents_503_busy(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    busy = {
        (method, path)
        for path, item in paths.items()
        for method, op in item.items()
        if "503" in op.get("responses", {})
    }
    writes = {(m, p) for p, item in paths.items() for m in item if m in ("post", "put", "patch")}
    writes |= {(m, p) for p, item in paths.items() for m in item if m == "delete"}
    assert writes <= busy
    assert ("get", "/v1/decision-events") in busy  # it writes the buffered events first
    assert ("get", "/v1/health") not in busy and (
        "get",
        "/v1/profiles/{namespace}/{identity}",
    ) not in busy
    problem = paths["/v1/profiles/bulk"]["post"]["responses"]["503"]
    assert problem["description"].startswith("Busy: the write waited NEXTOFFER_WRITE_WAIT_SECONDS")
