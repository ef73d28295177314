"""The console over HTTP, without a browser: the shell, fragments authenticated as the API is,
the security headers, and templates that a strict CSP can serve."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from pydantic import BaseModel
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
    assert "This client may not use this sandbox" in r.text
    assert 'data-problem="sandbox-not-granted"' in r.text


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


def _model_has(model: type[BaseModel], key: str) -> bool:
    head, _, rest = key.partition("/")
    info = model.model_fields.get(head) or next(
        (f for f in model.model_fields.values() if f.alias == head), None
    )
    if info is None:
        return False
    if not rest:
        return True
    annotation = info.annotation
    for candidate in getattr(annotation, "__args__", (annotation,)):
        inner = getattr(candidate, "__args__", (candidate,))
        for cls in (candidate, *inner):
            if isinstance(cls, type) and issubclass(cls, BaseModel) and _model_has(cls, rest):
                return True
    return False


def _check_fields(model: type[BaseModel], fields: tuple[Field, ...]) -> None:
    for f in fields:
        assert _model_has(model, f.key), f"{model.__name__} has no {f.key}"
        if f.widget == "group":
            info = model.model_fields[f.key]
            item = next(a for a in getattr(info.annotation, "__args__", ()) if isinstance(a, type))
            if not issubclass(item, BaseModel):
                item = item.__args__[0]  # type: ignore[attr-defined]
            _check_fields(item, f.fields)


@pytest.mark.parametrize("entity", CONSOLE_ENTITIES, ids=lambda e: e.slug)
def test_every_form_field_is_a_field_of_the_entity(entity: ConsoleEntity) -> None:
    _check_fields(entity.spec.model, entity.fields)
