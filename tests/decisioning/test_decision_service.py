"""The decision service's one scope check, as every way in (API, Edge, CLI, batch) uses it."""

from __future__ import annotations

import pytest

from nextoffer.composition import Services
from nextoffer.demo import demo_library
from nextoffer.engine import ScopeRequest
from nextoffer.errors import RuleViolation
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from nextoffer.wire.calls import proposition_request_pointer
from tests.conftest import new_org

HERO = ScopeRequest("dps:offer-activity:homepage-and-email", "dps:offer-placement:web-hero")
UNKNOWN = ScopeRequest("dps:offer-activity:nope", "dps:offer-placement:nowhere")


@pytest.fixture
def tenant(services: Services) -> Tenant:
    tenant = Tenant(new_org(), "prod")
    import_library(services.library, tenant, Actor("t", "t"), demo_library())
    return tenant


def test_screen_names_what_stops_each_scope(services: Services, tenant: Tenant) -> None:
    screening = services.decisions.screen(tenant, [HERO, UNKNOWN])
    assert screening.sandbox is not None and screening.catalog is not None
    assert [(p.index, p.field, p.code) for p in screening.problems] == [
        (1, "activity", "unknown-decision"),
        (1, "placement", "unknown-placement"),
    ]
    assert services.decisions.screen(tenant, [HERO]).problems == []


def test_a_tenant_without_a_sandbox_has_no_catalog(services: Services) -> None:
    screening = services.decisions.screen(Tenant(new_org(), "prod"), [HERO])
    assert screening.sandbox is None and screening.catalog is None
    assert [p.code for p in screening.problems] == ["unknown-decision", "unknown-placement"]


def test_decidable_is_one_422_naming_every_problem(services: Services, tenant: Tenant) -> None:
    with pytest.raises(RuleViolation) as raised:
        services.decisions.decidable(tenant, [HERO, UNKNOWN], proposition_request_pointer)
    assert [(e.pointer, e.code) for e in raised.value.errors] == [
        ("/xdm:propositionRequests/1/xdm:activityId", "unknown-decision"),
        ("/xdm:propositionRequests/1/xdm:placementId", "unknown-placement"),
    ]
