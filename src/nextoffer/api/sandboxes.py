"""Sandboxes exist explicitly: a call naming one that does not exist is `404 unknown-sandbox`.

A mistyped `x-sandbox-name` or `x-gw-ims-org-id` used to answer empty lists and decide nothing;
now it names the sandboxes the org has. A sandbox comes to exist by `nextoffer sandbox create
ORG NAME`, by `nextoffer serve --demo` (the demo's), or by the first write of a *credentialed*
caller granted it (a library object, a profile, a datastream): a grant says the sandbox is
meant. In open mode nobody is credentialed, so there a write to an unknown sandbox is refused
too: a typo does not become a sandbox.
"""

from __future__ import annotations

from nextoffer.config import Credential
from nextoffer.library.library_service import LibraryService
from nextoffer.tenants import Tenant


def check_sandbox(
    library: LibraryService, tenant: Tenant, credential: Credential | None, *, creates: bool
) -> None:
    """Raise `404 unknown-sandbox` unless the tenant's sandbox exists, or this call is a write
    by a credentialed caller (which creates it). Only names the caller may use are listed."""
    if creates and credential is not None:
        return
    if credential is None:
        hint = (
            f"; create it with `nextoffer sandbox create {tenant.org} {tenant.sandbox}` "
            "(open mode creates no sandbox on a write)"
        )
        library.require_sandbox(tenant, hint=hint)
        return
    library.require_sandbox(
        tenant,
        lambda name: name != "*" and bool(credential.grants(tenant.org, name)),
        hint="; a write by a client granted it creates it, as does `nextoffer sandbox create`",
    )
