"""The tenant of a request, from `x-gw-ims-org-id` and `x-sandbox-name` (400 when missing)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from nextoffer.errors import FieldError, InvalidInput
from nextoffer.tenants import Tenant

ORG_HEADER = "x-gw-ims-org-id"
SANDBOX_HEADER = "x-sandbox-name"

_ORG = re.compile(r"[\x21-\x7e]{1,256}")
_SANDBOX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""Both matched whole (`fullmatch`): a pattern ending in `$` would let a final newline in."""


def tenant_from_headers(headers: Mapping[str, str]) -> Tenant:
    org = headers.get(ORG_HEADER)
    sandbox = headers.get(SANDBOX_HEADER)
    errors = []
    if not org:
        errors.append(FieldError("the IMS org id header is required", parameter=ORG_HEADER))
    elif not _ORG.fullmatch(org):
        errors.append(
            FieldError("an org id is 1 to 256 visible ASCII characters", parameter=ORG_HEADER)
        )
    if not sandbox:
        errors.append(FieldError("the sandbox name header is required", parameter=SANDBOX_HEADER))
    elif not _SANDBOX.fullmatch(sandbox):
        errors.append(
            FieldError(
                "a sandbox name is 1 to 128 letters, digits, '_', '.' or '-'",
                parameter=SANDBOX_HEADER,
            )
        )
    if errors:
        raise InvalidInput.many(
            f"every call names its tenant with the {ORG_HEADER} and {SANDBOX_HEADER} headers",
            errors,
            code="missing-tenant",
        )
    assert org is not None and sandbox is not None
    return Tenant(org, sandbox)
