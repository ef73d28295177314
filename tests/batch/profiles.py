"""Profiles for batch tests, in the documented JSON shape (the profile store loads it too)."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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
