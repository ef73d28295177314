"""Events over real HTTP (the ASGI app): kept newest first and within the profile's byte
budget; future-dated or oversized events refused with problem+json naming them on
`/v1/profiles`, `/v1/events`, the Edge and bulk loads; a bulk load that fails leaves nothing.
(An Edge request is at most 64 KB, so its events cannot exceed the per-event limit.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nextoffer.timeutil import format_utc
from tests.helpers import Api, assert_problem

NDJSON = {"Content-Type": "application/x-ndjson"}


def ago(minutes: float) -> str:
    return format_utc(datetime.now(UTC) - timedelta(minutes=minutes))


FUTURE = format_utc(datetime.now(UTC) + timedelta(hours=1))
PAD = "x" * 70_000  # over the 64 KB an event may have


def jsonl(*docs: object) -> bytes:
    return b"".join(json.dumps(d).encode() + b"\n" for d in docs)


def post_events(api: Api, *xdms: dict) -> object:
    return api.post("/v1/events", None, content=jsonl(*({"xdm": x} for x in xdms)), headers=NDJSON)


def view(email: str, minutes_ago: float, **extra: object) -> dict:
    return {
        "eventType": "web.pageView",
        "identityMap": {"email": [{"id": email}]},
        "timestamp": ago(minutes_ago),
        **extra,
    }


def test_events_are_appended_newest_first(api: Api) -> None:
    r = post_events(api, view("ada@x.io", 10, n=1), view("ada@x.io", 30, n=0))
    assert r.status_code == 200, r.text
    assert post_events(api, view("ada@x.io", 1, n=2)).status_code == 200
    got = api.get("/v1/profiles/email/ada@x.io")
    assert [e["n"] for e in got.json()["events"]] == [2, 1, 0]
    assert got.json()["etag"] == 2  # each write of events is a new version of the profile


def test_a_profile_keeps_the_newest_events_within_its_byte_budget(make_api) -> None:
    api = make_api(profile_event_budget_bytes=1000)
    events = [view("ada@x.io", 10 - i, n=i, pad="y" * 300) for i in range(5)]  # ~420 B each
    assert post_events(api, *events).status_code == 200
    assert [e["n"] for e in api.get("/v1/profiles/email/ada@x.io").json()["events"]] == [4, 3]
    assert post_events(api, view("ada@x.io", 0, n=5)).status_code == 200
    kept = api.get("/v1/profiles/email/ada@x.io").json()["events"]
    assert [e["n"] for e in kept] == [5, 4, 3]
    assert sum(len(json.dumps(e, separators=(",", ":"))) for e in kept) <= 1000


def test_profile_writes_refuse_future_and_oversized_events(api: Api) -> None:
    doc = {"identityMap": {"email": [{"id": "a@x.io"}]}}
    ok = {"eventType": "web.pageView", "timestamp": ago(1)}
    r = api.put("/v1/profiles/email/a@x.io", {**doc, "events": [ok, {"timestamp": FUTURE}]})
    body = assert_problem(r, 400, "future-timestamp", "/events/1/timestamp")
    assert FUTURE in body["errors"][0]["message"]
    r = api.post("/v1/profiles", {**doc, "events": [{"timestamp": ago(1), "pad": PAD}]})
    assert_problem(r, 413, "event-too-large", "/events/0")
    r = api.patch(
        "/v1/profiles/email/a@x.io",
        {"events": [{"timestamp": FUTURE}]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(r, 400, "future-timestamp", "/events/0/timestamp")
    assert_problem(api.get("/v1/profiles/email/a@x.io"), 404, "no-profile")  # nothing written


def test_v1_events_refuses_future_and_oversized_events_naming_the_line(api: Api) -> None:
    r = post_events(api, view("a@x.io", 1), {**view("a@x.io", 1), "timestamp": FUTURE})
    body = assert_problem(r, 400, "future-timestamp", "/2/xdm/timestamp")
    assert body["line"] == 2 and body["detail"].startswith("line 2:")
    r = post_events(api, view("a@x.io", 1, pad=PAD))
    assert_problem(r, 413, "event-too-large", "/1/xdm")
    assert_problem(api.get("/v1/profiles/email/a@x.io"), 404, "no-profile")


def test_the_edge_refuses_future_and_oversized_events(api: Api) -> None:
    r = api.post("/v1/datastreams", {"name": "web"})
    assert r.status_code == 201, r.text
    datastream = r.json()["id"]

    def edge(action: str, xdm: dict) -> object:
        return api.client.post(
            f"/ee/v2/{action}?configId={datastream}",
            content=json.dumps({"events": [{"xdm": xdm}]}).encode(),
            headers={"Content-Type": "text/plain"},
        )

    ecid = {"ECID": [{"id": "12345678901234567890123456789012345678", "primary": True}]}
    future = {"eventType": "web.pageView", "identityMap": ecid, "timestamp": FUTURE}
    for action in ("collect", "interact"):
        assert_problem(edge(action, future), 400, "future-timestamp", "/events/0/xdm/timestamp")
    fine = {"eventType": "web.pageView", "identityMap": ecid, "timestamp": ago(0)}
    assert edge("collect", fine).status_code in (200, 204)


def test_a_bulk_load_failing_on_line_n_leaves_nothing_behind(api: Api) -> None:
    lines = [
        {"identityMap": {"email": [{"id": f"u{i}"}]}, "events": [{"timestamp": ago(1)}]}
        for i in range(300)
    ]
    for bad, status, code, pointer in (
        (
            {"identityMap": {"email": [{"id": "z"}]}, "events": [{"timestamp": FUTURE}]},
            400,
            "future-timestamp",
            "/events/0/timestamp",
        ),
        (
            {
                "identityMap": {"email": [{"id": "z"}]},
                "events": [{"pad": PAD, "timestamp": ago(1)}],
            },
            413,
            "event-too-large",
            "/events/0",
        ),
        ({"identityMap": {"email": "z"}}, 400, "invalid-profile", None),
    ):
        r = api.post("/v1/profiles/bulk", None, content=jsonl(*lines, bad), headers=NDJSON)
        body = assert_problem(r, status, code, pointer)
        assert body["line"] == 301 and body["detail"].startswith("line 301:")
        assert_problem(api.get("/v1/profiles/email/u0"), 404, "no-profile")
    api.put("/v1/profiles/email/taken", {})
    api.put("/v1/profiles/email/also-taken", {})
    both = {"identityMap": {"email": [{"id": "taken"}, {"id": "also-taken"}]}}
    r = api.post("/v1/profiles/bulk", None, content=jsonl(*lines, both), headers=NDJSON)
    assert assert_problem(r, 409, "identity-conflict")["line"] == 301
    assert_problem(api.get("/v1/profiles/email/u299"), 404, "no-profile")
    r = api.post("/v1/profiles/bulk", None, content=jsonl(*lines), headers=NDJSON)
    assert r.status_code == 200 and r.json() == {"created": 300, "replaced": 0, "total": 300}
    assert len(api.get("/v1/profiles/email/u299").json()["events"]) == 1
