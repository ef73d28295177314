"""Status lifecycles through the API: every (from, to) pair, legal or refused with its message.

The expected tables are written out from README ("Offers: draft ⇄ approved → archived (archived
is final). Decisions: draft → live → complete, any → archived"), not computed from the code.
"""

from __future__ import annotations

import pytest

from tests.helpers import Api, assert_problem

OFFER_STATUSES = ("draft", "approved", "archived")
OFFER_HINTS = {
    "draft": "allowed from draft: approved, archived",
    "approved": "allowed from approved: archived, draft",
    "archived": "archived is final",
}
OFFER_LEGAL = {
    ("draft", "approved"),
    ("draft", "archived"),
    ("approved", "draft"),
    ("approved", "archived"),
}

DECISION_STATUSES = ("draft", "live", "complete", "archived")
DECISION_HINTS = {
    "draft": "allowed from draft: archived, live",
    "live": "allowed from live: archived, complete",
    "complete": "allowed from complete: archived",
    "archived": "archived is final",
}
DECISION_LEGAL = {
    ("draft", "live"),
    ("draft", "archived"),
    ("live", "complete"),
    ("live", "archived"),
    ("complete", "archived"),
}


def _set_status(api: Api, path: str, status: str):
    return api.patch(path, [{"op": "replace", "path": "/status", "value": status}])


def _expect(r, old: str, new: str, legal: set, hints: dict) -> None:
    if old == new or (old, new) in legal:
        assert r.status_code == 200, r.text
        return
    body = assert_problem(r, 422, "illegal-status-change")
    assert body["errors"] == [
        {
            "pointer": "/status",
            "message": f"status cannot change from {old} to {new} ({hints[old]})",
            "code": "illegal-status-change",
        }
    ]


@pytest.mark.parametrize("kind", ["personalized", "fallback"])
@pytest.mark.parametrize("old", OFFER_STATUSES)
def test_every_offer_status_change(api: Api, kind: str, old: str) -> None:
    placement = api.placement()
    for new in OFFER_STATUSES:
        offer = api.offer([placement], kind=kind, status=old)
        path = f"/offers/{offer}?offer-type={kind}"
        r = _set_status(api, path, new)
        _expect(r, old, new, OFFER_LEGAL, OFFER_HINTS)
        legal = old == new or (old, new) in OFFER_LEGAL
        assert api.get(path).json()["status"] == (new if legal else old)


@pytest.mark.parametrize("old", DECISION_STATUSES)
def test_every_decision_status_change(api: Api, old: str) -> None:
    placement = api.placement()
    fallback = api.offer([placement], kind="fallback")
    collection = api.collection([api.offer([placement])])
    for new in DECISION_STATUSES:
        decision = api.decision([placement], collection, fallback, status=old)
        path = f"/offer-decisions/{decision}"
        _expect(_set_status(api, path, new), old, new, DECISION_LEGAL, DECISION_HINTS)
        legal = old == new or (old, new) in DECISION_LEGAL
        assert api.get(path).json()["status"] == (new if legal else old)


def test_a_new_object_may_start_in_any_status(api: Api) -> None:
    """The lifecycle governs changes; a create (or an import) states where an object is."""
    placement = api.placement()
    for status in OFFER_STATUSES:
        assert api.offer([placement], status=status)
    r = api.post("/offer-decisions", {"name": "d", "status": "complete"})
    assert r.status_code == 201, r.text


def test_removing_the_status_means_the_initial_one(api: Api) -> None:
    placement = api.placement()
    archived = api.offer([placement], status="archived")
    r = api.patch(
        f"/offers/{archived}?offer-type=personalized", [{"op": "remove", "path": "/status"}]
    )
    _expect(r, "archived", "draft", OFFER_LEGAL, OFFER_HINTS)
    approved = api.offer([placement], status="approved")
    r = api.patch(
        f"/offers/{approved}?offer-type=personalized", [{"op": "remove", "path": "/status"}]
    )
    assert r.status_code == 200, r.text
    assert api.get(f"/offers/{approved}?offer-type=personalized").json()["status"] == "draft"
