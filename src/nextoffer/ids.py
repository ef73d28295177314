"""Server-assigned identifiers: `dps:<kind>:<16 lowercase hex>` as Adobe's DPS writes them."""

from __future__ import annotations

import secrets


def new_id(kind: str) -> str:
    return f"dps:{kind}:{secrets.token_hex(8)}"
