"""Who is asking, and for which data: the tenant (org + sandbox) and the acting client."""

from __future__ import annotations

import re
from dataclasses import dataclass

ORG_ID = re.compile(r"[\x21-\x7e]{1,256}")
ORG_ID_RULE = "an org id is 1 to 256 visible ASCII characters"
SANDBOX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SANDBOX_NAME_RULE = "a sandbox name is 1 to 128 letters, digits, '_', '.' or '-'"
"""Both matched whole (`fullmatch`): a pattern ending in `$` would let a final newline in. The
API's headers and `nextoffer sandbox create` take the same names."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """An IMS org and one of its sandboxes; data of one tenant is invisible to every other."""

    org: str
    sandbox: str


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, recorded as `createdBy`/`lastModifiedBy` and the client ids."""

    user: str
    client_id: str
