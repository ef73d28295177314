"""Authentication (`Authorization: Bearer` + `x-api-key`) and grants of orgs and sandboxes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from nextoffer.config import Credential
from nextoffer.errors import Forbidden, Unauthenticated
from nextoffer.tenants import Actor, Tenant

OPEN_MODE_USER = "anonymous@nextoffer"


class Authenticator:
    """Checks a request's credentials against the configured clients.

    In open mode (local use only; `nextoffer serve` warns loudly) every caller is accepted and
    recorded as `anonymous@nextoffer`, with its `x-api-key` as client id when it sends one.
    """

    def __init__(self, credentials: tuple[Credential, ...], open_mode: bool) -> None:
        self.open_mode = open_mode
        self._by_key: dict[str, list[Credential]] = {}
        for cred in credentials:
            self._by_key.setdefault(cred.api_key, []).append(cred)

    def authenticate(self, headers: Mapping[str, str]) -> Credential | None:
        """The caller's credential (None in open mode); 401 when missing or wrong."""
        if self.open_mode:
            return None
        auth = headers.get("authorization")
        if not auth:
            raise Unauthenticated.at(
                "missing Authorization header: send Authorization: Bearer <token>",
                parameter="Authorization",
                code="missing-credentials",
            )
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated.at(
                "the Authorization header must be Bearer <token>",
                parameter="Authorization",
                code="bad-credentials",
            )
        api_key = headers.get("x-api-key")
        if not api_key:
            raise Unauthenticated.at(
                "missing x-api-key header: send your client's API key",
                parameter="x-api-key",
                code="missing-credentials",
            )
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        for cred in self._by_key.get(api_key, ()):
            if hmac.compare_digest(digest, cred.token_sha256):
                return cred
        raise Unauthenticated.at(
            "the access token and API key are not valid together",
            parameter="Authorization",
            code="bad-credentials",
        )

    def authorize(
        self, cred: Credential | None, tenant: Tenant, headers: Mapping[str, str]
    ) -> Actor:
        """The actor for `tenant`; 403 when the credential does not grant its org or sandbox."""
        if cred is None:
            return Actor(OPEN_MODE_USER, headers.get("x-api-key") or "nextoffer-open")
        granted = cred.grants(tenant.org, tenant.sandbox)
        if granted is None:
            raise Forbidden.at(
                f"client {cred.client_id} has no access to org {tenant.org}",
                parameter="x-gw-ims-org-id",
                code="org-not-granted",
            )
        if not granted:
            raise Forbidden.at(
                f"client {cred.client_id} has no access to sandbox {tenant.sandbox} "
                f"of {tenant.org}",
                parameter="x-sandbox-name",
                code="sandbox-not-granted",
            )
        return Actor(cred.user, cred.client_id)
