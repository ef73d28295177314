"""The Edge's threat model (issue 15), through real HTTP: what an anonymous caller can and
cannot do with a datastream id alone."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nextoffer.tenants import Tenant
from tests.edge.conftest import ORIGIN, scope
from tests.helpers import Api, assert_problem


def edge_call(
    edge: dict, action: str, events: list[dict], *, credentials: bool = False, **headers: str
) -> Any:
    """An Edge call as a page makes it (no credentials), or as a server does (`credentials`)."""
    api: Api = edge["api"]
    sent = {"Content-Type": "text/plain; charset=UTF-8", **headers}
    if credentials:
        sent.update(Authorization=f"Bearer {api.token}", **{"x-api-key": api.api_key})
    return api.client.post(
        f"/ee/v2/{action}?configId={edge['datastream']}",
        content=json.dumps({"events": events}).encode(),
        headers=sent,
    )


# -- one identity validation for the Edge and the profile API -----------------------------------


@pytest.mark.parametrize(
    ("identity_map", "pointer", "words"),
    [
        (
            {"ECID": [{"id": f"device-{i}"} for i in range(151)]},
            "/events/0/xdm/identityMap",
            "at most 100 identities",
        ),
        ({"n" * 200: [{"id": "x"}]}, "/events/0/xdm/identityMap/" + "n" * 200, "1 to 128"),
        ({"email": [{"id": "x" * 5000}]}, "/events/0/xdm/identityMap/email/0", "1 to 1024"),
        ({"email": []}, "/events/0/xdm/identityMap/email", "non-empty array"),
    ],
)
def test_the_edge_refuses_identities_the_profile_api_refuses(
    edge: dict, identity_map: dict, pointer: str, words: str
) -> None:
    for action in ("interact", "collect"):
        r = edge_call(edge, action, [{"xdm": {"eventType": "x", "identityMap": identity_map}}])
        body = assert_problem(r, 400, "invalid-body", pointer=pointer)
        assert words in json.dumps(body), body
    # the profile API applies the very same rules
    profile = {"identityMap": identity_map}
    r = edge["api"].put("/v1/profiles/crmid/1", profile)
    assert_problem(r, 400, pointer=pointer.removeprefix("/events/0/xdm"))


# -- allowedOrigins: not access control, never a credentialed wildcard --------------------------


def test_a_request_without_origin_is_served_as_a_server_side_call(edge: dict) -> None:
    r = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}])
    assert r.status_code == 204
    assert not [h for h in r.headers if h.startswith("access-control-")]


def test_a_wildcard_answers_star_without_credentials(edge: dict) -> None:
    api: Api = edge["api"]
    r = api.request(
        "PATCH", f"/v1/datastreams/{edge['datastream']}", json={"allowedOrigins": [ORIGIN, "*"]}
    )
    assert r.status_code == 200, r.text
    stranger = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}], Origin="https://x.test")
    assert stranger.status_code == 204
    assert stranger.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in stranger.headers
    listed = edge_call(edge, "collect", [{"xdm": {"eventType": "x"}}], Origin=ORIGIN)
    assert listed.headers["access-control-allow-origin"] == ORIGIN
    assert listed.headers["access-control-allow-credentials"] == "true"


def test_a_preflight_names_the_headers_the_edge_reads_not_an_echo(edge: dict) -> None:
    r = edge["api"].client.options(
        f"/ee/v2/interact?configId={edge['datastream']}",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-evil, authorization",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert r.headers["access-control-allow-methods"] == "POST, OPTIONS"


# -- no anonymous oracle -------------------------------------------------------------------------

DRY = {"__adobe": {"ajo": {"dryRun": True}}}


def hero_request(identity_map: dict, **data: Any) -> dict:
    event: dict[str, Any] = {
        "xdm": {"eventType": "web.webpagedetails.pageViews", "identityMap": identity_map},
        "query": {"personalization": {"decisionScopes": [scope("homepage-and-email", "web-hero")]}},
    }
    if data:
        event["data"] = data
    return event


def test_a_dry_run_through_the_edge_needs_credentials(edge: dict) -> None:
    event = hero_request({"email": [{"id": "victim@example.com"}]}, **DRY)
    anonymous = edge_call(edge, "interact", [event], Origin=ORIGIN)
    body = assert_problem(anonymous, 401, "credentials-required")
    assert body["errors"][0]["pointer"] == "/events/0/data/__adobe/ajo/dryRun"
    assert "API credentials" in body["detail"]
    assert anonymous.headers["access-control-allow-origin"] == ORIGIN  # the page can read why
    wrong = edge_call(edge, "interact", [event], Authorization="Bearer nope", **{"x-api-key": "k"})
    assert_problem(wrong, 401, "bad-credentials", parameter="Authorization")
    limited = edge_call(
        edge,
        "interact",
        [event],
        Authorization="Bearer limited-token",
        **{"x-api-key": "limited-key"},
    )
    assert_problem(limited, 403, "org-not-granted")
    assert edge_call(edge, "interact", [event], credentials=True).status_code == 200


# -- identity verification -----------------------------------------------------------------------

SECRET = "a-32-byte-or-longer-secret-for-hmac-signing"
VICTIM = "victim@example.com"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def protect(edge: dict, keys: list[dict], namespaces: tuple[str, ...] = ("email",)) -> dict:
    settings = {"requiredNamespaces": list(namespaces), "keys": keys}
    r = edge["api"].request(
        "PATCH", f"/v1/datastreams/{edge['datastream']}", json={"identityVerification": settings}
    )
    assert r.status_code == 200, r.text
    return r.json()


def sign(
    key: Any, alg: str, sub: str, *, kid: str | None = "k1", lifetime: int = 300, **claims: Any
) -> str:
    now = int(time.time())
    headers = {"kid": kid} if kid else None
    payload = {"sub": sub, "iat": now, "exp": now + lifetime, **claims}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def with_token(identity_map: dict, token: str | None) -> dict:
    event = hero_request(identity_map)
    if token is not None:
        event["data"] = {"__nextoffer": {"identityToken": token}}
    return event


def known_profile(edge: dict, email: str, *, tier: str = "gold") -> str:
    r = edge["api"].put(
        f"/v1/profiles/email/{email}",
        {"identityMap": {"email": [{"id": email}]}, "attributes": {"loyalty": {"tier": tier}}},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()["profileId"]


def decided_for(edge: dict, proposition_id: str) -> dict:
    """The decision event of a proposition, as `/v1/decision-events` shows it."""
    api: Api = edge["api"]
    events = api.client.app.state.nextoffer.decision_events
    return events.get(Tenant(api.org, api.sandbox), [proposition_id])[proposition_id].as_dict()


def hero(r: Any) -> dict:
    assert r.status_code == 200, r.text
    [proposition] = r.json()["handle"][0]["payload"]
    return proposition


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256"])
def test_a_verified_identity_decides_as_its_profile(edge: dict, alg: str, rsa_key, ec_key) -> None:
    signing, key = {
        "HS256": (SECRET, {"kid": "k1", "alg": "HS256", "secret": SECRET}),
        "RS256": (rsa_key, {"kid": "k1", "alg": "RS256", "publicKey": public_pem(rsa_key)}),
        "ES256": (ec_key, {"kid": "k1", "alg": "ES256", "publicKey": public_pem(ec_key)}),
    }[alg]
    protect(edge, [key])
    pid = known_profile(edge, VICTIM)
    device = {"ECID": [{"id": "device-1"}]}
    browsing = hero(edge_call(edge, "interact", [hero_request(device)]))  # an anonymous visit
    anonymous_pid = decided_for(edge, browsing["id"])["profileId"]
    assert anonymous_pid is None  # nobody yet; the visit made a profile holding the ECID
    logged_in = {"email": [{"id": VICTIM, "primary": True}], **device}
    token = sign(signing, alg, f"email:{VICTIM}", aud=edge["datastream"])
    proposition = hero(edge_call(edge, "interact", [with_token(logged_in, token)]))
    assert decided_for(edge, proposition["id"])["profileId"] == pid
    profile = edge["api"].get(f"/v1/profiles/email/{VICTIM}").json()
    assert len(profile["events"]) == 1  # the verified visit is kept on the verified profile
    assert profile["identityMap"] == {"email": [{"id": VICTIM}]}  # a claim never attaches
    # a verified identity nobody holds stitches onto the profile the device leads to
    new = "new-customer@example.com"
    signed_up = {"email": [{"id": new, "primary": True}], **device}
    token = sign(signing, alg, f"email:{new}")
    edge_call(edge, "collect", [with_token(signed_up, token)])
    stitched = edge["api"].get("/v1/profiles/ECID/device-1").json()
    assert stitched["identityMap"] == {"ecid": [{"id": "device-1"}], "email": [{"id": new}]}
    assert len(stitched["events"]) == 2


def test_an_unverified_identity_in_a_protected_namespace_is_ignored(edge: dict) -> None:
    protect(edge, [{"kid": "k1", "alg": "HS256", "secret": SECRET}])
    known_profile(edge, VICTIM)
    claim = {"email": [{"id": VICTIM, "primary": True}], "ECID": [{"id": "attacker"}]}
    proposition = hero(edge_call(edge, "interact", [hero_request(claim)]))
    made = decided_for(edge, proposition["id"])
    assert made["identity"] == {"namespace": "ECID", "id": "attacker"}  # decided as the ECID
    profile = edge["api"].get(f"/v1/profiles/email/{VICTIM}").json()
    assert made["profileId"] != profile["profileId"]
    assert profile["identityMap"] == {"email": [{"id": VICTIM}]}  # nothing stitched
    assert profile["events"] == []  # nothing kept on the victim
    # the e-mail alone decides as nobody: no profile, no counters
    alone = hero(edge_call(edge, "interact", [hero_request({"email": [{"id": VICTIM}]})]))
    assert decided_for(edge, alone["id"])["profileId"] is None
    assert decided_for(edge, alone["id"])["identity"] is None
    # a server with credentials stays trusted
    server = hero(edge_call(edge, "interact", [hero_request(claim)], credentials=True))
    assert decided_for(edge, server["id"])["profileId"] == profile["profileId"]


@pytest.mark.parametrize(
    ("make_token", "words"),
    [
        (lambda k: sign(SECRET, "HS256", f"email:{VICTIM}", lifetime=-120), "expired"),
        (
            lambda k: sign("another-secret-of-more-than-32-bytes!!", "HS256", f"email:{VICTIM}"),
            "signature",
        ),
        (lambda k: sign(SECRET, "HS256", "email:someone-else@example.com"), "does not name"),
        (lambda k: sign(SECRET, "HS256", VICTIM), '"<namespace>:<id>"'),
        (lambda k: sign(None, "none", f"email:{VICTIM}"), "not 'none'"),
        (lambda k: sign(k, "RS256", f"email:{VICTIM}"), "not 'RS256'"),
        (lambda k: sign(SECRET, "HS256", f"email:{VICTIM}", kid="k9"), "names no key"),
        (lambda k: sign(SECRET, "HS256", f"email:{VICTIM}", aud="another-datastream"), "aud"),
        (lambda k: sign(SECRET, "HS256", f"email:{VICTIM}", lifetime=7 * 86_400), "short-lived"),
        (lambda k: "not.a.jwt", "not a JWT"),
        (lambda k: 42, "a JWT of at most"),
    ],
)
def test_a_token_that_proves_nothing_is_401(edge: dict, rsa_key, make_token, words: str) -> None:
    protect(edge, [{"kid": "k1", "alg": "HS256", "secret": SECRET}])
    known_profile(edge, VICTIM)
    event = with_token({"email": [{"id": VICTIM}]}, make_token(rsa_key))
    for action in ("interact", "collect"):
        r = edge_call(edge, action, [event], Origin=ORIGIN)
        body = assert_problem(r, 401, "identity-token-invalid")
        assert body["errors"][0]["pointer"] == "/events/0/data/__nextoffer/identityToken"
        assert words in body["detail"], body
    assert edge["api"].get(f"/v1/profiles/email/{VICTIM}").json()["events"] == []


def test_a_token_on_a_datastream_without_keys_is_401(edge: dict) -> None:
    event = with_token({"email": [{"id": VICTIM}]}, sign(SECRET, "HS256", f"email:{VICTIM}"))
    body = assert_problem(edge_call(edge, "interact", [event]), 401, "identity-token-invalid")
    assert "verifies no identities" in body["detail"]


def test_identity_verification_settings_are_validated_and_secrets_never_shown(
    edge: dict, rsa_key
) -> None:
    api: Api = edge["api"]
    url = f"/v1/datastreams/{edge['datastream']}"
    doc = protect(
        edge,
        [
            {"kid": "k1", "alg": "HS256", "secret": SECRET},
            {"kid": "k2", "alg": "RS256", "publicKey": public_pem(rsa_key)},
        ],
        ("Email", "crmId"),
    )
    settings = doc["identityVerification"]
    assert settings["requiredNamespaces"] == ["email", "crmid"]
    assert settings["keys"][0] == {"kid": "k1", "alg": "HS256"}
    assert settings["keys"][1]["publicKey"] == public_pem(rsa_key)
    for shown in (api.get(url).json(), api.get("/v1/datastreams").json()["results"][0]):
        assert SECRET not in json.dumps(shown)
    # what a GET shows can be written back: the stored secret stays
    r = api.request(
        "PATCH", url, json={"identityVerification": api.get(url).json()["identityVerification"]}
    )
    assert r.status_code == 200, r.text
    token = sign(SECRET, "HS256", f"email:{VICTIM}")
    ok = edge_call(edge, "collect", [with_token({"email": [{"id": VICTIM}]}, token)])
    assert ok.status_code == 204, ok.text
    bad = [
        ({"keys": []}, "/identityVerification/keys", "1 to 10 keys"),
        (
            {"keys": [{"kid": "k", "alg": "HS256", "secret": "short"}]},
            "/identityVerification/keys/0/secret",
            "32 to 512 characters",
        ),
        (
            {"keys": [{"kid": "k", "alg": "none"}]},
            "/identityVerification/keys/0/alg",
            "alg is one of",
        ),
        (
            {"keys": [{"kid": "k", "alg": "RS256", "publicKey": "junk"}]},
            "/identityVerification/keys/0/publicKey",
            "not a PEM",
        ),
        (
            {"keys": [{"kid": "k", "alg": "ES256", "publicKey": public_pem(rsa_key)}]},
            "/identityVerification/keys/0/publicKey",
            "EC public key",
        ),
        (
            {"keys": [{"kid": "k", "alg": "RS256", "publicKey": "-----BEGIN PRIVATE KEY-----\nx"}]},
            "/identityVerification/keys/0/publicKey",
            "private key",
        ),
        (
            {"keys": [{"kid": "k", "alg": "HS256", "secret": SECRET}] * 2},
            "/identityVerification/keys/1/kid",
            "two keys",
        ),
        (
            {
                "keys": [{"kid": "k", "alg": "HS256", "secret": SECRET}],
                "requiredNamespaces": ["bad ns"],
            },
            "/identityVerification/requiredNamespaces/0",
            "namespace",
        ),
        (
            {"keys": [{"kid": "k", "alg": "HS256", "secret": SECRET}], "extra": 1},
            "/identityVerification/extra",
            "unknown field",
        ),
        ([], "/identityVerification", "identityVerification is"),
    ]
    for settings, pointer, words in bad:
        r = api.request("PATCH", url, json={"identityVerification": settings})
        body = assert_problem(r, 400, "invalid-body", pointer=pointer)
        assert words in json.dumps(body), body
        created = api.post("/v1/datastreams", {"name": "n", "identityVerification": settings})
        assert_problem(created, 400, "invalid-body", pointer=pointer)
    created = api.post("/v1/datastreams", {"name": "n", "identityVerification": None})
    assert_problem(created, 400, "invalid-body", pointer="/identityVerification")
    # null removes verification
    r = api.request("PATCH", url, json={"identityVerification": None})
    assert r.status_code == 200 and "identityVerification" not in r.json()


# -- anonymous identities are claims -------------------------------------------------------------


def test_an_anonymous_call_never_attaches_an_identity_to_an_existing_profile(edge: dict) -> None:
    pid = known_profile(edge, VICTIM)
    claim = {"email": [{"id": VICTIM, "primary": True}], "ECID": [{"id": "attacker"}]}
    r = edge_call(edge, "collect", [{"xdm": {"eventType": "x", "identityMap": claim}}])
    assert r.status_code == 204, r.text
    victim = edge["api"].get(f"/v1/profiles/email/{VICTIM}").json()
    assert victim["identityMap"] == {"email": [{"id": VICTIM}]}
    # so the attacker's device does not decide as the victim
    attacker = hero(edge_call(edge, "interact", [hero_request({"ECID": [{"id": "attacker"}]})]))
    assert decided_for(edge, attacker["id"])["profileId"] != pid
    # (the attacker's page view made an anonymous profile of its own)
    assert edge["api"].get("/v1/profiles/ECID/attacker").json()["profileId"] != pid


def test_identities_pre_claimed_anonymously_never_fail_the_tenants_own_writes(edge: dict) -> None:
    api: Api = edge["api"]
    r = api.put("/v1/profiles/crmId/1", {"identityMap": {"crmId": [{"id": "1"}]}})
    assert r.status_code == 201, r.text
    tenants = r.json()["profileId"]
    claims = {"email": [{"id": VICTIM}], "phone": [{"id": "+33600000000"}], "ECID": [{"id": "x"}]}
    poisoned = {"xdm": {"eventType": "commerce.purchases", "identityMap": claims}}
    assert edge_call(edge, "collect", [poisoned]).status_code == 204
    claimant = api.get(f"/v1/profiles/email/{VICTIM}").json()["profileId"]
    # the tenant's bulk load names the claimed e-mail on its own profile: no 409
    line = {"identityMap": {"crmId": [{"id": "1"}], "email": [{"id": VICTIM}]}}
    r = api.request(
        "POST",
        "/v1/profiles/bulk",
        content=json.dumps(line).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    victim = api.get(f"/v1/profiles/email/{VICTIM}").json()
    assert victim["profileId"] == tenants and victim["events"] == []  # no anonymous events
    # a PATCH and a PUT take the other claims over as well
    r = api.request(
        "PATCH",
        "/v1/profiles/crmId/1",
        json={"identityMap": {"phone": [{"id": "+33600000000"}]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert api.get("/v1/profiles/phone/+33600000000").json()["profileId"] == tenants
    r = api.put("/v1/profiles/ECID/x", {"identityMap": {"ECID": [{"id": "x"}]}})
    assert r.status_code == 201, r.text  # a new profile of the tenant's: the claimant is gone
    assert api.get("/v1/profiles/ECID/x").json()["profileId"] not in (tenants, claimant)
    assert api.get(f"/v1/profiles/email/{VICTIM}").json()["profileId"] == tenants


def test_a_verified_identity_takes_over_a_claim(edge: dict) -> None:
    claims = {"email": [{"id": VICTIM}], "ECID": [{"id": "attacker"}]}
    edge_call(edge, "collect", [{"xdm": {"eventType": "x", "identityMap": claims}}])
    protect(edge, [{"kid": "k1", "alg": "HS256", "secret": SECRET}])
    mine = {"email": [{"id": VICTIM}], "ECID": [{"id": "mine"}]}
    token = sign(SECRET, "HS256", f"email:{VICTIM}")
    assert edge_call(edge, "collect", [with_token(mine, token)]).status_code == 204
    victim = edge["api"].get(f"/v1/profiles/email/{VICTIM}").json()
    assert victim["identityMap"] == {"ecid": [{"id": "mine"}], "email": [{"id": VICTIM}]}
    assert len(victim["events"]) == 1  # the claimant's event stayed with the claimant
    attacker = edge["api"].get("/v1/profiles/ECID/attacker").json()
    assert attacker["identityMap"] == {"ecid": [{"id": "attacker"}]}


# -- notifications count once, for whom they were decided ----------------------------------------


def display(proposition: dict, identity_map: dict | None) -> dict:
    xdm: dict[str, Any] = {
        "eventType": "decisioning.propositionDisplay",
        "_experience": {
            "decisioning": {
                "propositions": [
                    {
                        "id": proposition["id"],
                        "items": [{"id": i["id"]} for i in proposition["items"]],
                    }
                ]
            }
        },
    }
    if identity_map is not None:
        xdm["identityMap"] = identity_map
    return {"xdm": xdm}


def test_a_replayed_notification_is_kept_and_counted_once(edge: dict) -> None:
    fan = {"email": [{"id": "fan@example.com"}]}
    proposition = hero(edge_call(edge, "interact", [hero_request(fan)]))
    for _ in range(3):
        assert edge_call(edge, "collect", [display(proposition, fan)]).status_code == 204
    assert edge_call(edge, "collect", [display(proposition, None)]).status_code == 204
    events = edge["api"].get("/v1/profiles/email/fan@example.com").json()["events"]
    kinds = [e["eventType"] for e in events]
    assert kinds.count("decisioning.propositionDisplay") == 1


def test_a_notification_for_someone_else_is_refused(edge: dict) -> None:
    known_profile(edge, VICTIM)
    proposition = hero(edge_call(edge, "interact", [hero_request({"email": [{"id": VICTIM}]})]))
    stranger = {"ECID": [{"id": "attacker"}]}
    r = edge_call(edge, "collect", [display(proposition, stranger)])
    body = assert_problem(r, 422, "not-decided-for", pointer="/events/0/xdm/identityMap")
    assert proposition["id"] in body["errors"][0]["message"]
    assert edge["api"].get("/v1/profiles/ECID/attacker").status_code == 404  # nothing written
    # the same identity, or another of the same profile, is fine
    assert (
        edge_call(edge, "collect", [display(proposition, {"EMAIL": [{"id": VICTIM}]})]).status_code
        == 204
    )
