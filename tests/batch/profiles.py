"""Profiles for batch tests: files in the documented shapes, and a store with the store's contract.

`ContractStore` implements `ProfileStore.iter_profiles` exactly as the profile store's contract
states it (pages of `Profile(profile_id, identities, attributes, segments, events)` of one
audience, filtered by status). It stands in for `nextoffer.profiles.ProfileStore` until that
store is on this branch; the batch code reaches it only through that contract.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nextoffer.tenants import Tenant

AUDIENCE = "aud-newsletter"


def profile_docs(n: int, *, seed: int = 7, audience: str = AUDIENCE) -> list[dict[str, Any]]:
    """`n` profiles in the documented JSON shape; every third one has exited the audience."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        attributes: dict[str, Any] = {
            "loyalty": {"tier": rnd.choice(["gold", "silver", "bronze"])},
            "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
            "person": {"name": {"firstName": rnd.choice(["Ada", "Joe", "Lin"])}},
        }
        status = "exited" if i % 3 == 2 else rnd.choice(["realized", "existing"])
        out.append(
            {
                "identityMap": {"email": [{"id": f"user{i}@example.com", "primary": True}]},
                "attributes": attributes,
                "segmentMembership": {"ups": {audience: {"status": status}}},
            }
        )
    return out


def write_jsonl(path: Path, docs: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def write_parquet(path: Path, docs: Sequence[Mapping[str, Any]]) -> Path:
    """The documented Parquet layout: JSON text columns identityMap, attributes, segments."""
    table = pa.table(
        {
            "identityMap": [json.dumps(d["identityMap"]) for d in docs],
            "attributes": [json.dumps(d.get("attributes", {})) for d in docs],
            "segmentMembership": [json.dumps(d.get("segmentMembership")) for d in docs],
        }
    )
    pq.write_table(table, path)
    return path


@dataclass(frozen=True)
class Profile:
    profile_id: str
    identities: Mapping[str, tuple[str, ...]]
    attributes: Mapping[str, Any]
    segments: Mapping[str, str]
    events: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


class ContractStore:
    """`iter_profiles` over profiles kept per tenant, as the profile store's contract says."""

    def __init__(self) -> None:
        self.profiles: dict[Tenant, list[Profile]] = {}

    def add_docs(self, tenant: Tenant, docs: Sequence[Mapping[str, Any]]) -> None:
        for doc in docs:
            identities = {ns: tuple(e["id"] for e in ids) for ns, ids in doc["identityMap"].items()}
            ns, ids = next(iter(identities.items()))
            segments = {
                aud: entry["status"]
                for audiences in doc.get("segmentMembership", {}).values()
                for aud, entry in audiences.items()
            }
            self.profiles.setdefault(tenant, []).append(
                Profile(f"{ns}:{ids[0]}", identities, doc.get("attributes", {}), segments)
            )

    def iter_profiles(
        self,
        tenant: Tenant,
        *,
        audience: str,
        statuses: Sequence[str] = ("realized", "existing"),
        batch_size: int = 1000,
        with_events: bool = False,
    ) -> Iterator[list[Profile]]:
        page: list[Profile] = []
        for profile in self.profiles.get(tenant, []):
            if profile.segments.get(audience) in statuses:
                page.append(profile)
                if len(page) == batch_size:
                    yield page
                    page = []
        if page:
            yield page
