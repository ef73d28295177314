"""The Decisioning API's wire format without HTTP: versions, and bodies to calls."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import pytest

from nextoffer.engine import ScopeRequest, build_catalog
from nextoffer.errors import UnsupportedMediaType
from nextoffer.tenants import Tenant
from nextoffer.wire.calls import proposition_request_pointer
from nextoffer.wire.decisioning import (
    XDM_JSON,
    DecisionRequest,
    DecisionRequestV09,
    InlineProfile,
    pointer_v09,
    request_type,
    request_version,
    response_version,
    to_call,
)
from tests.engine.library import Library, criterion

SCHEMA = "https://ns.adobe.com/experience/offer-management/"
TENANT = Tenant("org@AdobeOrg", "prod")
V1 = (
    b'{"xdm:propositionRequests": [{"xdm:activityId": "a", "xdm:placementId": "p"}],'
    b' "xdm:profiles": [{"xdm:identityMap": {"Email": [{"xdm:id": "ada@example.com"}]}}]}'
)
V09 = (
    b'{"xdm:offerActivities": [{"xdm:offerActivity": "d1"},'
    b' {"xdm:offerActivity": "nope"}],'
    b' "xdm:identityMap": {"Email": [{"xdm:id": "ada@example.com"}]},'
    b' "xdm:allowDuplicatePropositions": {"xdm:acrossActivities": true}}'
)


def schema(kind: str, version: str) -> str:
    return f'{XDM_JSON}; schema="{SCHEMA}decision-{kind};version={version}"'


@pytest.mark.parametrize(
    ("content_type", "body", "version"),
    [
        (None, V1, "1.0"),
        ("application/json", V09, "0.9"),  # a 0.9 body says so by its fields
        (schema("request", "0.9"), V1, "0.9"),  # the header wins over the body
        (schema("request", "1.0"), V09, "1.0"),
    ],
)
def test_the_request_version(content_type: str | None, body: bytes, version: str) -> None:
    assert request_version(content_type, body) == version


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/plain", "send the decision request as application/json"),
        (schema("request", "2.0"), "decision-request versions 1.0 and 0.9 are served"),
        (schema("response", "1.0"), "decision-request versions 1.0 and 0.9 are served"),
    ],
)
def test_unsupported_request_media_types_are_refused(content_type: str, message: str) -> None:
    """Refused as unsupported media types (the HTTP layer answers 415)."""
    with pytest.raises(UnsupportedMediaType) as raised:
        request_version(content_type, V1)
    assert raised.value.code == "unsupported-media-type" and message in raised.value.detail
    assert raised.value.errors[0].parameter == "Content-Type"


def test_the_response_version_follows_accept_else_the_request() -> None:
    assert response_version(None, "0.9") == ("0.9", "application/json")
    assert response_version("application/json", "1.0") == ("1.0", "application/json")
    assert response_version(schema("response", "0.9"), "1.0") == (
        "0.9",
        f'{XDM_JSON}; schema="{SCHEMA}decision-response;version=0.9"',
    )
    assert response_version(schema("response", "3.0"), "1.0") == ("1.0", "application/json")


def test_a_v1_request_translates_to_a_call() -> None:
    body = msgspec.json.decode(
        V1.replace(
            b'"ada@example.com"}]}}]',
            b'"ada@example.com"}]}, "xdm:decisionRequestId": "r-9",'
            b' "xdm:attributes": {"segmentMembership": {"ups": {"s1": {"status": "realized"}}}},'
            b' "xdm:contextData": [{"@type": "ctx", "xdm:data": {"k": 1}}]}]',
        ),
        type=request_type("1.0"),
    )
    assert isinstance(body, DecisionRequest)
    call, pointer = to_call(body, TENANT, "header-id", lambda t: pytest.fail("no catalog read"))
    assert call.scopes == [ScopeRequest("a", "p", None)]
    assert call.identities == [("Email", "ada@example.com")]
    assert call.request_id == "r-9"  # the body's id wins over the header's
    assert call.context == {"ctx": {"k": 1}}
    assert isinstance(call.inline, InlineProfile) and call.inline.segments == {"s1": "realized"}
    assert pointer is proposition_request_pointer
    assert pointer(0, "placement") == "/xdm:propositionRequests/0/xdm:placementId"


def test_a_v09_request_decides_each_activity_for_its_first_placement() -> None:
    lib = Library()
    for placement in ("p2", "p1"):
        lib.placement(placement)
    lib.offer("o1", placements=("p1", "p2"))
    lib.fallback(placements=("p1", "p2"))
    lib.collection("c1", ["o1"])
    lib.decision("d1", [criterion("c1", ("p2", "p1"))])
    catalog = build_catalog(lib.docs)
    body = msgspec.json.decode(V09, type=request_type("0.9"))
    assert isinstance(body, DecisionRequestV09)
    asked: list[Tenant] = []
    call, pointer = to_call(body, TENANT, "header-id", lambda t: asked.append(t) or catalog)
    assert asked == [TENANT]
    assert call.scopes == [
        ScopeRequest("d1", "p2"),
        ScopeRequest("nope", ""),  # unknown: left for the scope check to name
    ]
    assert call.allow_duplicates == (True, True)
    assert call.request_id == "header-id"
    assert pointer is pointer_v09 and pointer(1, "placement") == (
        "/xdm:offerActivities/1/xdm:offerActivity"
    )


def test_a_v09_request_for_a_tenant_without_a_catalog() -> None:
    body = msgspec.json.decode(V09, type=DecisionRequestV09)
    call, _ = to_call(body, TENANT, None, lambda t: None)
    assert [s.placement_id for s in call.scopes] == ["", ""]


def _seconds(call: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def test_schema_versions_are_read_in_linear_time() -> None:
    """`schema=` repeated took 15 s at 224 KB (a quadratic regex). Reading 16 times the text
    must take about 16 times as long, not 256: measured against the small header, side by side."""
    small, big = "schema=" * 2_000, "schema=" * 32_000
    for header in (f"application/json; {small}", f"application/json; {small}decision-"):
        assert request_version(header, b"{}") == "1.0"
        assert response_version(header, "1.0") == ("1.0", "application/json")
    t_small = _seconds(
        lambda: [request_version(f"application/json; {small}", b"") for _ in range(16)]
    )
    t_big = _seconds(lambda: request_version(f"application/json; {big}", b""))
    assert t_big < 8 * max(t_small, 1e-4)
    assert (
        request_version(f'{XDM_JSON}; {small} schema="{SCHEMA}decision-request;version=0.9"', b"")
        == "0.9"
    )
