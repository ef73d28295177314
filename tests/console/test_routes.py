"""The console over HTTP, without a browser: the shell, fragments authenticated as the API is,
the security headers, and templates that a strict CSP can serve."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from starlette.testclient import TestClient

from nextoffer.console.entities import BY_KIND, CONSOLE_ENTITIES, ConsoleEntity
from nextoffer.console.fields import Field
from nextoffer.console.rendering import CSP
from nextoffer.library.entities import ENTITIES
from tests.helpers import Api

TEMPLATES = resources.files("nextoffer.console").joinpath("templates")


def test_the_root_redirects_to_the_console(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console"


@pytest.mark.parametrize("path", ["/console", "/console/offers", "/console/decisions/x/edit"])
def test_the_shell_carries_no_data_and_loads_its_own_fragment(
    client: TestClient, path: str
) -> None:
    r = client.get(path + "?q=a")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "no-store"
    fragment = "/console/fragments" + path[len("/console") :] + "?q=a"
    assert f'data-fragment="{fragment}"' in r.text
    assert '"includeIndicatorStyles": false' in r.text


@pytest.mark.parametrize("asset", ["console.js", "console.css", "htmx.min.js", "favicon.svg"])
def test_static_files_are_served_with_the_csp(client: TestClient, asset: str) -> None:
    r = client.get(f"/console/static/{asset}")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_fragment_authenticates_as_the_api_does(client: TestClient, api: Api) -> None:
    r = client.get("/console/fragments/offers")
    assert r.status_code == 401 and "Sign in" in r.text
    assert r.headers["content-security-policy"] == CSP
    r = client.get("/console/fragments/offers", headers=api.headers)
    assert r.status_code == 200 and "<h1>Offers</h1>" in r.text


def test_a_forbidden_sandbox_is_named(client: TestClient, api: Api) -> None:
    limited = Api(client, "LIMITED@AdobeOrg", "prod", "limited-token", "limited-key")
    r = limited.client.get("/console/fragments/offers", headers=limited.headers)
    assert r.status_code == 403
    assert "This client may not use sandbox prod" in r.text
    assert 'data-problem="sandbox-not-granted"' in r.text
    other_org = {**limited.headers, "x-gw-ims-org-id": "OTHER@AdobeOrg"}
    r = client.get("/console/fragments/offers", headers=other_org)
    assert r.status_code == 403
    assert "This client may not use org OTHER@AdobeOrg" in r.text


def test_an_unknown_sandbox_and_page_are_404(client: TestClient, api: Api) -> None:
    other = api.other_sandbox("prod")
    headers = {**other.headers, "x-sandbox-name": "nosuch"}
    r = client.get("/console/fragments/offers", headers=headers)
    assert r.status_code == 404 and "unknown-sandbox" in r.text
    r = client.get("/console/fragments/no-such-page", headers=api.headers)
    assert r.status_code == 404
    r = client.get("/console/fragments/offers/dps:x:nope", headers=api.headers)
    assert r.status_code == 404


def test_templates_have_no_inline_script_or_style() -> None:
    templates = list(Path(str(TEMPLATES)).rglob("*.html"))
    assert len(templates) >= 8
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"\sstyle=|<style", text), template
        assert not re.search(r"\son[a-z]+=", text), template


def test_every_library_entity_has_its_pages() -> None:
    assert set(BY_KIND) == {spec.kind for spec in ENTITIES}
    assert len({e.slug for e in CONSOLE_ENTITIES}) == len(CONSOLE_ENTITIES)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The models an annotation names (`X`, `X | None`, `list[X] | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _field_info(model: type[BaseModel], key: str) -> FieldInfo | None:
    """The pydantic field a `/`-separated key reaches (by name or alias), or None."""
    head, _, rest = key.partition("/")
    info = model.model_fields.get(head) or next(
        (f for f in model.model_fields.values() if f.alias == head), None
    )
    if info is None or not rest:
        return info
    for inner in _models_in(info.annotation):
        if (found := _field_info(inner, rest)) is not None:
            return found
    return None


def _check_fields(model: type[BaseModel], fields: tuple[Field, ...]) -> None:
    for f in fields:
        info = _field_info(model, f.key)
        assert info is not None, f"{model.__name__} has no {f.key}"
        if f.widget == "group":
            (item,) = _models_in(info.annotation)
            _check_fields(item, f.fields)


@pytest.mark.parametrize("entity", CONSOLE_ENTITIES, ids=lambda e: e.slug)
def test_every_form_field_is_a_field_of_the_entity(entity: ConsoleEntity) -> None:
    _check_fields(entity.spec.model, entity.fields)


def test_a_detail_page_links_its_references_both_ways(client: TestClient, api: Api) -> None:
    placement = api.placement(name="Hero slot")
    offer = api.offer([placement], name="Spring sale")
    r = client.get(f"/console/fragments/placements/{placement}", headers=api.headers)
    assert r.status_code == 200
    used_by = r.text[r.text.index('id="used-by-title"') :]
    assert f'href="/console/offers/{offer}">Spring sale</a>' in used_by
    r = client.get(f"/console/fragments/offers/{offer}", headers=api.headers)
    uses = r.text[r.text.index('id="uses-title"') : r.text.index('id="used-by-title"')]
    assert f'href="/console/placements/{placement}">Hero slot</a>' in uses
    assert "Nothing uses it." in r.text


def test_no_tenant_chosen_says_how_to_get_one(client: TestClient, api: Api) -> None:
    headers = {k: api.headers[k] for k in ("Authorization", "x-api-key")}  # no tenant
    r = client.get("/console/fragments/offers", headers=headers)
    assert r.status_code == 400
    assert "Choose an org and sandbox" in r.text and "nextoffer sandbox create" in r.text
