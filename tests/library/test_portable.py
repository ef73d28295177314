"""Export and import of a whole sandbox: ids kept, references checked, all or nothing."""

from __future__ import annotations

import copy

import pytest

from nextoffer.demo import demo_library
from nextoffer.errors import Conflict, InvalidInput, RuleViolation
from nextoffer.library.portable import export_library, import_library
from nextoffer.tenants import Actor, Tenant
from tests.conftest import new_org
from tests.helpers import Api

ACTOR = Actor("importer@acme", "import-tool")


def _library(api: Api) -> dict[str, str]:
    placement = api.placement()
    tag = api.tag()
    offer = api.offer([placement], tags=[tag])
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection([tag], "any-tags")
    decision = api.decision([placement], collection, fallback, status="live")
    return {"offer": offer, "decision": decision, "tag": tag}


def test_export_then_import_into_another_sandbox_keeps_everything(api: Api, services) -> None:
    ids = _library(api)
    source = Tenant(api.org, api.sandbox)
    data = export_library(services.library, source)
    assert data["format"] == "nextoffer-library" and data["org"] == api.org
    assert [k for k, v in data["objects"].items() if v] == [
        "tag",
        "offer-placement",
        "personalized-offer",
        "fallback-offer",
        "offer-filter",
        "offer-activity",
    ]
    target = Tenant(api.org, "copy")
    result = import_library(services.library, target, ACTOR, data)
    assert (result.created, result.replaced) == (6, 0)
    copy_api = api.other_sandbox("copy")
    for path in (
        f"/offers/{ids['offer']}?offer-type=personalized",
        f"/offer-decisions/{ids['decision']}",
    ):
        original, imported = api.get(path).json(), copy_api.get(path).json()
        assert imported == original  # ids, system fields and bodies all kept
    # references were recorded: the imported tag cannot be deleted while offers use it
    assert copy_api.delete(f"/tags/{ids['tag']}").status_code == 409
    assert export_library(services.library, target)["objects"] == data["objects"]


def test_an_import_with_a_broken_reference_writes_nothing(api: Api, services) -> None:
    _library(api)
    data = export_library(services.library, Tenant(api.org, api.sandbox))
    broken = copy.deepcopy(data)
    broken["objects"]["offer-activity"][0]["fallback"] = "dps:fallback-offer:missing"
    target = Tenant(new_org(), "prod")
    with pytest.raises(RuleViolation) as info:
        import_library(services.library, target, ACTOR, broken)
    assert any(e.pointer == "/objects/offer-activity/0/fallback" for e in info.value.errors)
    assert export_library(services.library, target)["objects"] == {k: [] for k in data["objects"]}


def test_schema_errors_name_the_object_and_field(services) -> None:
    data = copy.deepcopy(demo_library())
    data["objects"]["tag"][1]["name"] = ""
    del data["objects"]["offer-placement"][0]["channel"]
    with pytest.raises(InvalidInput) as info:
        import_library(services.library, Tenant(new_org(), "prod"), ACTOR, data)
    pointers = {e.pointer for e in info.value.errors}
    assert pointers == {"/objects/tag/1/name", "/objects/offer-placement/0/channel"}


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda d: d.update(format="something"), "/format"),
        (lambda d: d.update(version=9), "/version"),
        (lambda d: d.update(objects=[]), "/objects"),
        (lambda d: d["objects"].update(gadgets=[]), "/objects/gadgets"),
        (lambda d: d["objects"]["tag"][0].pop("id"), "/objects/tag/0/id"),
        (lambda d: d["objects"]["tag"].append(dict(d["objects"]["tag"][0])), "/objects/tag/3/id"),
    ],
)
def test_malformed_files_are_refused(services, mutate, pointer: str) -> None:
    data = copy.deepcopy(demo_library())
    mutate(data)
    with pytest.raises(InvalidInput) as info:
        import_library(services.library, Tenant(new_org(), "prod"), ACTOR, data)
    assert any(e.pointer == pointer for e in info.value.errors), info.value.errors


def test_existing_ids_conflict_unless_replaced(services) -> None:
    tenant = Tenant(new_org(), "prod")
    import_library(services.library, tenant, ACTOR, demo_library())
    with pytest.raises(Conflict) as info:
        import_library(services.library, tenant, ACTOR, demo_library())
    assert info.value.code == "already-exists"
    changed = copy.deepcopy(demo_library())
    changed["objects"]["tag"][0]["name"] = "Loyalty (renamed)"
    result = import_library(services.library, tenant, ACTOR, changed, replace=True)
    assert result.created == 0 and result.replaced == sum(
        len(v) for v in changed["objects"].values()
    )
    tag = next(
        t
        for t in export_library(services.library, tenant)["objects"]["tag"]
        if t["id"] == "dps:tag:loyalty"
    )
    assert tag["name"] == "Loyalty (renamed)" and tag["etag"] == 2


def test_replacing_must_not_break_stored_referrers(services) -> None:
    tenant = Tenant(new_org(), "prod")
    import_library(services.library, tenant, ACTOR, demo_library())
    only_fallback = {
        "format": "nextoffer-library",
        "version": 1,
        "objects": {
            "fallback-offer": [dict(demo_library()["objects"]["fallback-offer"][0], status="draft")]
        },
    }
    with pytest.raises(RuleViolation) as info:
        import_library(services.library, tenant, ACTOR, only_fallback, replace=True)
    assert any(e.code == "breaks-referrer" for e in info.value.errors)


def test_import_respects_limits(make_api, services) -> None:
    from nextoffer.config import Limits

    small = make_api(limits=Limits(tags_per_sandbox=2))
    library = small.client.app.state.nextoffer.library
    with pytest.raises(RuleViolation) as info:
        import_library(library, Tenant(new_org(), "prod"), ACTOR, demo_library())
    assert "tags_per_sandbox" in info.value.errors[0].message


def test_the_demo_library_is_valid_and_served(services) -> None:
    tenant = Tenant(new_org(), "prod")
    result = import_library(services.library, tenant, ACTOR, demo_library())
    assert result.created == sum(len(v) for v in demo_library()["objects"].values())
