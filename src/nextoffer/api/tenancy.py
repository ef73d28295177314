"""The tenant of a request, from `x-gw-ims-org-id` and `x-sandbox-name` (400 when missing)."""

from __future__ import annotations

from collections.abc import Mapping

from nextoffer.errors import FieldError, InvalidInput
from nextoffer.tenants import ORG_ID, ORG_ID_RULE, SANDBOX_NAME, SANDBOX_NAME_RULE, Tenant

ORG_HEADER = "x-gw-ims-org-id"
SANDBOX_HEADER = "x-sandbox-name"


def tenant_from_headers(headers: Mapping[str, str]) -> Tenant:
    org = headers.get(ORG_HEADER)
    sandbox = headers.get(SANDBOX_HEADER)
    errors = []
    if not org:
        errors.append(FieldError("the IMS org id header is required", parameter=ORG_HEADER))
    elif not ORG_ID.fullmatch(org):
        errors.append(FieldError(ORG_ID_RULE, parameter=ORG_HEADER))
    if not sandbox:
        errors.append(FieldError("the sandbox name header is required", parameter=SANDBOX_HEADER))
    elif not SANDBOX_NAME.fullmatch(sandbox):
        errors.append(FieldError(SANDBOX_NAME_RULE, parameter=SANDBOX_HEADER))
    if errors:
        raise InvalidInput.many(
            f"every call names its tenant with the {ORG_HEADER} and {SANDBOX_HEADER} headers",
            errors,
            code="missing-tenant",
        )
    assert org is not None and sandbox is not None
    return Tenant(org, sandbox)
