"""Who calls the Edge, and what the identities of their events are worth.

A server calling with API credentials (as `aepp` does) is the tenant itself: its identities are
trusted, as on the profile API. A page calls with nothing but a datastream id: its identities
are claims. A claim may find a profile and add events to it, but never attaches an identity to
an existing profile (`profiles.merge`), and a claim in a namespace the datastream protects
(`identityVerification.requiredNamespaces`) counts only with a token the site's backend signed
(`edge.verification`): without one it is dropped, for lookup, events and counters alike, and
the event decides as whoever its other identities name (or as nobody).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from nextoffer.decisioning.feedback import Provenance
from nextoffer.edge.verification import TOKEN_FIELD, IdentityVerifier, verifier_for
from nextoffer.errors import Unauthenticated
from nextoffer.profiles.documents import namespace_key
from nextoffer.records.datastreams import Datastream
from nextoffer.wire.edge import EdgeEvent
from nextoffer.wire.events import ExperienceEvent

TOKEN_HOLDER = "__nextoffer"
"""`data.__nextoffer.identityToken`: the Web SDK passes `sendEvent`'s `data` through as is."""


@dataclass(frozen=True, slots=True)
class EdgeCaller:
    trusted: bool
    """Called with API credentials that grant the datastream's sandbox."""
    datastream_id: str = ""
    verifier: IdentityVerifier | None = None


SERVER = EdgeCaller(trusted=True)
"""A server-side caller with credentials (the route checks them first)."""


def page(datastream: Datastream) -> EdgeCaller:
    """An anonymous caller of `datastream`, held to its identity verification."""
    settings = datastream.identity_verification
    verifier = verifier_for(datastream.id, datastream.etag, settings) if settings else None
    return EdgeCaller(False, datastream.id, verifier)


def token_of(event: EdgeEvent) -> Any:
    holder = event.data.get(TOKEN_HOLDER) if isinstance(event.data, dict) else None
    return holder.get(TOKEN_FIELD) if isinstance(holder, dict) else None


def screen(
    caller: EdgeCaller, event: EdgeEvent, parsed: ExperienceEvent, data_pointer: str, now: float
) -> tuple[ExperienceEvent, Provenance]:
    """The event with only the identities it may use (the verified one first), and what its
    identities may write. A token that is present and proves nothing is a 401: a page with an
    expired token must fetch a fresh one, not be silently decided as someone else."""
    if caller.trusted:
        return parsed, Provenance()
    token = token_of(event)
    pointer = f"{data_pointer}/{TOKEN_HOLDER}/{TOKEN_FIELD}"
    verified: tuple[tuple[str, str], ...] = ()
    if token is not None:
        if caller.verifier is None:
            raise Unauthenticated.at(
                f"datastream {caller.datastream_id} verifies no identities: give it "
                "identityVerification keys first",
                pointer=pointer,
                code="identity-token-invalid",
            )
        proven = caller.verifier.verify(token, caller.datastream_id, now, pointer)
        named = [i for i in parsed.identities if (namespace_key(i[0]), i[1]) == proven]
        if not named:
            raise Unauthenticated.at(
                f"the identity token proves {proven[0]}:{proven[1]}, which the event's "
                "identityMap does not name",
                pointer=pointer,
                code="identity-token-invalid",
            )
        verified = (named[0],)
    verifier = caller.verifier
    claims = tuple(
        i
        for i in parsed.identities
        if i not in verified and not (verifier is not None and verifier.protects(i[0]))
    )
    return replace(parsed, identities=verified + claims), Provenance(True, verified)
