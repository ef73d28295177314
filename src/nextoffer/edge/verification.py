"""Identity verification per datastream: the site's backend vouches for an identity.

An identity an anonymous page names is a claim: anyone can type a victim's e-mail into an
`identityMap`. A datastream can therefore require proof for the namespaces it names
(`identityVerification.requiredNamespaces`): the site's backend, which knows who is logged in,
signs a short-lived JWT whose `sub` is `namespace:id`, and the page passes it with the event
(`data.__nextoffer.identityToken`). A token verifies with one of the datastream's keys
(`kid`; HMAC secrets or RSA/EC public keys), only with the algorithm that key names (no
`none`, no HMAC-with-a-public-key confusion), within a bounded leeway and lifetime, and, when
it has an `aud`, only for this datastream. This is Braze's SDK authentication and Intercom's
identity verification, for the Edge.

Settings are validated here (`settings_errors`), stored in the datastream document, and never
shown back with their secrets (`public_settings`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from nextoffer.errors import FieldError, Unauthenticated
from nextoffer.profiles.documents import MAX_ID_LENGTH, is_namespace, namespace_key

Identity = tuple[str, str]

HMAC_ALGS = ("HS256", "HS384", "HS512")
RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
EC_ALGS = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
ALGS = (*HMAC_ALGS, *RSA_ALGS, *EC_ALGS)
MIN_SECRET_BYTES = 32
"""An HMAC secret shorter than its hash is guessable offline from one token (RFC 7518 §3.2);
counted in characters (each at least a byte), as the OpenAPI schema states it."""
MAX_SECRET_BYTES = 512
MIN_RSA_BITS = 2048
MAX_PEM_CHARS = 8192
MAX_KEYS = 10
MAX_NAMESPACES = 20
LEEWAY_SECONDS = 30
"""Clock skew tolerated between the site's backend and nextoffer (for exp, nbf and iat)."""
MAX_LIFETIME_SECONDS = 86_400
"""A token may not be valid for longer than this from now: it is a bearer credential."""
MAX_TOKEN_CHARS = 4096
_KID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_SETTINGS = {"requiredNamespaces", "keys"}
_KEY_FIELDS = {"kid", "alg", "secret", "publicKey"}

TOKEN_FIELD = "identityToken"
"""Where a page puts the token: `events[i].data.__nextoffer.identityToken`."""


# -- settings ------------------------------------------------------------------------------------


def settings_errors(
    raw: Any, previous: Mapping[str, Any] | None, pointer: str
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The settings to store, or the errors naming what is wrong.

    A key of the previous settings keeps its stored `secret` when the new key has the same
    `kid` and `alg` and no `secret` (what a GET shows): a client can read, edit and write back.
    """
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        errors.append(
            FieldError(
                'identityVerification is {"requiredNamespaces": [...], "keys": [...]}',
                pointer=pointer,
            )
        )
        return None, errors
    errors += [
        FieldError("unknown field", pointer=f"{pointer}/{k}") for k in raw if k not in _SETTINGS
    ]
    namespaces = raw.get("requiredNamespaces", [])
    if not isinstance(namespaces, list) or len(namespaces) > MAX_NAMESPACES:
        errors.append(
            FieldError(
                f"requiredNamespaces is a list of at most {MAX_NAMESPACES} identity namespaces",
                pointer=f"{pointer}/requiredNamespaces",
            )
        )
        namespaces = []
    for i, ns in enumerate(namespaces):
        if not isinstance(ns, str) or not is_namespace(ns):
            errors.append(
                FieldError(
                    "a namespace is 1 to 128 letters, digits, '_', '.' or '-'",
                    pointer=f"{pointer}/requiredNamespaces/{i}",
                )
            )
    keys = raw.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS:
        errors.append(
            FieldError(
                f"keys is a list of 1 to {MAX_KEYS} keys that verify identity tokens",
                pointer=f"{pointer}/keys",
            )
        )
        keys = []
    stored = {
        k.get("kid"): k
        for k in ((previous or {}).get("keys") or [])
        if isinstance(k, Mapping) and k.get("secret")
    }
    out_keys, kids = [], set()
    for i, key in enumerate(keys):
        where = f"{pointer}/keys/{i}"
        checked = _key(key, stored, where, errors)
        if checked is None:
            continue
        if checked["kid"] in kids:
            errors.append(FieldError("two keys have this kid", pointer=f"{where}/kid"))
        kids.add(checked["kid"])
        out_keys.append(checked)
    if errors:
        return None, errors
    required = list(dict.fromkeys(namespace_key(ns) for ns in namespaces))
    return {"requiredNamespaces": required, "keys": out_keys}, []


def _key(
    key: Any, stored: Mapping[str, Mapping[str, Any]], where: str, errors: list[FieldError]
) -> dict[str, Any] | None:
    if not isinstance(key, Mapping):
        errors.append(FieldError('a key is {"kid", "alg", "secret" or "publicKey"}', where))
        return None
    before = len(errors)
    errors += [FieldError("unknown field", f"{where}/{k}") for k in key if k not in _KEY_FIELDS]
    kid, alg = key.get("kid"), key.get("alg")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        errors.append(
            FieldError("kid is 1 to 64 letters, digits, '.', '_', ':' or '-'", f"{where}/kid")
        )
    if alg not in ALGS:
        errors.append(FieldError(f"alg is one of {', '.join(ALGS)}", f"{where}/alg"))
        return None
    if alg in HMAC_ALGS:
        if "publicKey" in key:
            errors.append(FieldError(f"an {alg} key has a secret, not a publicKey", where))
        secret = key.get("secret")
        if secret is None and kid in stored and stored[kid].get("alg") == alg:
            secret = stored[kid]["secret"]  # written back as read: keep the stored secret
        size = len(secret) if isinstance(secret, str) else 0
        if not MIN_SECRET_BYTES <= size <= MAX_SECRET_BYTES:
            errors.append(
                FieldError(
                    f"secret is a string of {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} characters "
                    "(a random one: 32 bytes from a CSPRNG, base64)",
                    f"{where}/secret",
                )
            )
        if len(errors) > before:
            return None
        return {"kid": kid, "alg": alg, "secret": secret}
    if "secret" in key:
        errors.append(FieldError(f"an {alg} key has a publicKey, not a secret", where))
    pem = key.get("publicKey")
    problem = _public_key_problem(alg, pem)
    if problem:
        errors.append(FieldError(problem, f"{where}/publicKey"))
    if len(errors) > before:
        return None
    return {"kid": kid, "alg": alg, "publicKey": pem}


def _public_key_problem(alg: str, pem: Any) -> str | None:
    if not isinstance(pem, str) or not pem.strip() or len(pem) > MAX_PEM_CHARS:
        return f"publicKey is a PEM public key (at most {MAX_PEM_CHARS} characters)"
    if "PRIVATE KEY" in pem:
        return "this is a private key: give the public key only (keep the private one secret)"
    try:
        public = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return "publicKey is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
    if alg in RSA_ALGS:
        if not isinstance(public, rsa.RSAPublicKey):
            return f"an {alg} key is an RSA public key"
        if public.key_size < MIN_RSA_BITS:
            return f"an RSA key has at least {MIN_RSA_BITS} bits"
        return None
    curve = EC_ALGS[alg]
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != curve:
        return f"an {alg} key is an EC public key on {curve}"
    return None


def public_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as GET shows them: HMAC secrets left out."""
    return {
        "requiredNamespaces": list(settings.get("requiredNamespaces", [])),
        "keys": [{k: v for k, v in key.items() if k != "secret"} for key in settings["keys"]],
    }


# -- verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    alg: str
    material: Any
    """The HMAC secret (bytes) or the loaded public key."""


class IdentityVerifier:
    """A datastream's verification settings, ready to check tokens (keys loaded once)."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.required = frozenset(settings.get("requiredNamespaces", ()))
        self._keys: dict[str, _Key] = {}
        for key in settings["keys"]:
            if key["alg"] in HMAC_ALGS:
                material: Any = key["secret"].encode()
            else:
                material = load_pem_public_key(key["publicKey"].encode())
            self._keys[key["kid"]] = _Key(key["alg"], material)

    def protects(self, namespace: str) -> bool:
        """Whether an identity of `namespace` counts only with proof."""
        return namespace_key(namespace) in self.required

    def verify(self, token: Any, datastream_id: str, now: float, pointer: str) -> Identity:
        """The identity `token` proves, as (namespace lower-case, id); 401 when it proves none.

        Signature with the key its `kid` names (or the only key), that key's algorithm only;
        `exp` and `sub` required; `nbf`/`iat` honoured; a lifetime of at most a day from now;
        `aud`, when present, naming this datastream.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise _refused(
                f"an identity token is a JWT of at most {MAX_TOKEN_CHARS} characters", pointer
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("the identity token is not a JWT", pointer) from None
        kid = header.get("kid")
        if kid is None and len(self._keys) == 1:
            kid = next(iter(self._keys))
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _refused(
                f"the identity token names no key of this datastream (kid {kid!r})", pointer
            )
        if header.get("alg") != key.alg:
            raise _refused(
                f"key {kid} verifies {key.alg} tokens only, not {header.get('alg')!r}", pointer
            )
        try:
            claims = jwt.decode(
                token,
                key.material,
                algorithms=[key.alg],
                options={"require": ["exp", "sub"], "verify_aud": False},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise _refused("the identity token has expired", pointer) from None
        except jwt.InvalidSignatureError:
            raise _refused("the identity token's signature does not verify", pointer) from None
        except jwt.PyJWTError as exc:
            raise _refused(f"the identity token is invalid: {exc}", pointer) from None
        exp = claims["exp"]
        if not isinstance(exp, int | float) or exp > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
            raise _refused(
                f"the identity token is valid for more than {MAX_LIFETIME_SECONDS} seconds; "
                "sign short-lived tokens",
                pointer,
            )
        aud = claims.get("aud")
        if aud is not None and datastream_id not in ([aud] if isinstance(aud, str) else aud):
            raise _refused("the identity token is for another datastream (aud)", pointer)
        return _subject(claims["sub"], pointer)


def _subject(sub: Any, pointer: str) -> Identity:
    namespace, sep, value = sub.partition(":") if isinstance(sub, str) else ("", "", "")
    if not sep or not is_namespace(namespace) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise _refused('the identity token\'s sub is "<namespace>:<id>"', pointer)
    return namespace_key(namespace), value


def _refused(message: str, pointer: str) -> Unauthenticated:
    return Unauthenticated.at(  # type: ignore[return-value]
        message, pointer=pointer, code="identity-token-invalid"
    )


_VERIFIERS: dict[tuple[str, int], IdentityVerifier] = {}
_LOCK = threading.Lock()


def verifier_for(datastream_id: str, etag: int, settings: Mapping[str, Any]) -> IdentityVerifier:
    """The datastream's verifier, its keys loaded once per version of the datastream."""
    found = _VERIFIERS.get((datastream_id, etag))
    if found is None:
        found = IdentityVerifier(settings)
        with _LOCK:
            if len(_VERIFIERS) >= 1024:
                _VERIFIERS.clear()
            _VERIFIERS[(datastream_id, etag)] = found
    return found
