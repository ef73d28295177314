"""Read models and write receipts, shaped field for field as Adobe's examples show them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from nextoffer.library.entities import EntitySpec
from nextoffer.timeutil import format_utc

SYSTEM_FIELDS = ("created", "modified", "etag", "schemas", "createdBy", "lastModifiedBy", "id")
"""Fields the server owns; they lead every read model, in this order."""


def read_model(
    spec: EntitySpec,
    *,
    object_id: str,
    etag: int,
    created: str,
    modified: str,
    created_by: str,
    modified_by: str,
    body: Mapping[str, Any],
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "created": created,
        "modified": modified,
        "etag": etag,
        "schemas": [spec.schema_id],
        "createdBy": created_by,
        "lastModifiedBy": modified_by,
        "id": object_id,
    }
    doc.update(body)
    return doc


def body_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The client-owned part of a read model."""
    return {k: v for k, v in doc.items() if k not in SYSTEM_FIELDS}


def timestamp(spec: EntitySpec, when: datetime) -> str:
    return format_utc(when, zulu=spec.zulu_timestamps)


def receipt(
    doc: Mapping[str, Any],
    *,
    sandbox_id: str,
    created_by_client_id: str,
    last_modified_by_client_id: str,
) -> dict[str, Any]:
    """The write receipt POST, PATCH and PUT return (it does not echo the entity)."""
    return {
        "etag": doc["etag"],
        "createdBy": doc["createdBy"],
        "lastModifiedBy": doc["lastModifiedBy"],
        "id": doc["id"],
        "sandboxId": sandbox_id,
        "createdDate": to_zulu(doc["created"]),
        "lastModifiedDate": to_zulu(doc["modified"]),
        "createdByClientId": created_by_client_id,
        "lastModifiedByClientId": last_modified_by_client_id,
    }


def to_zulu(value: str) -> str:
    """`...+00:00` spelled `...Z`, as receipts and Decisioning objects write UTC."""
    return value[:-6] + "Z" if value.endswith("+00:00") else value


def spell(spec: EntitySpec, utc_text: str) -> str:
    """A normalised UTC timestamp spelled the way `spec`'s read models spell it."""
    return to_zulu(utc_text) if spec.zulu_timestamps else utc_text
