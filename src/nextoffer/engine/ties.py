"""Random tie-breaks between equal scores, independent of evaluation order."""

from __future__ import annotations

import hashlib
import secrets


class TieBreaker:
    """A random key per (scope, offer) that does not depend on evaluation order.

    Equal scores are ordered by these keys: a uniformly random order for each request, the
    same whichever engine (lazy or reference) evaluated which offers, and reproducible with a
    seed.
    """

    __slots__ = ("_salt",)

    def __init__(self, seed: int | None) -> None:
        salt = secrets.token_bytes(16) if seed is None else seed.to_bytes(16, "big", signed=True)
        self._salt = salt

    def key(self, scope_index: int, offer_id: str) -> int:
        digest = hashlib.blake2b(
            f"{scope_index}\0{offer_id}".encode(), digest_size=8, key=self._salt
        ).digest()
        return int.from_bytes(digest, "big")
