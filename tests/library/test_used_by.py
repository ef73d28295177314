"""`LibraryService.used_by`: every object that names another, read from the sandbox's snapshot
(the console's "Used by")."""

from __future__ import annotations

from starlette.testclient import TestClient

from nextoffer.tenants import Tenant
from tests.helpers import Api


def test_used_by_lists_every_reference_to_an_object(client: TestClient, api: Api) -> None:
    placement = api.placement()
    other = api.placement()
    offer = api.offer([placement])
    fallback = api.offer([placement, other], kind="fallback")
    collection = api.collection([offer])
    decision = api.decision([placement], collection, fallback)
    library = client.app.state.nextoffer.library
    tenant = Tenant(api.org, api.sandbox)

    assert sorted(library.used_by(tenant, placement)) == sorted(
        [
            (offer, "personalized-offer", "/representations/0/placement"),
            (fallback, "fallback-offer", "/representations/0/placement"),
            (decision, "offer-activity", "/criteria/0/placements/0"),
        ]
    )
    assert library.used_by(tenant, other) == [
        (fallback, "fallback-offer", "/representations/1/placement")
    ]
    assert library.used_by(tenant, collection) == [
        (decision, "offer-activity", "/criteria/0/optionSelection/filter")
    ]
    assert library.used_by(tenant, decision) == []
    assert library.used_by(Tenant(api.org, "nosuch"), placement) == []  # no sandbox, no uses

    assert api.delete(f"/offer-decisions/{decision}").status_code == 200
    assert library.used_by(tenant, collection) == []  # the snapshot follows writes
