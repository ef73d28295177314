"""What the library service needs from the outside, as protocols the store implements.

The service never sees a connection: it asks a `LibraryStore` for reads, and for a
`LibraryWrite` — one transaction on one sandbox that already holds the sandbox's next revision,
so writers of a sandbox queue and everything written commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from nextoffer.records.library import ObjectRow, Sandbox, SandboxSnapshot

Referrer = tuple[str, str, str]
"""`(source id, source kind, pointer)` of one reference to an object."""


class LibraryWrite(Protocol):
    """One write transaction on one sandbox, at the revision it took when it began."""

    @property
    def sandbox(self) -> Sandbox: ...

    @property
    def revision(self) -> int:
        """The revision every row written in this transaction carries."""
        ...

    def get(self, object_id: str) -> ObjectRow | None: ...

    def get_many(self, ids: Iterable[str]) -> dict[str, ObjectRow]: ...

    def all_objects(self) -> list[ObjectRow]: ...

    def count(self, kinds: Sequence[str]) -> int: ...

    def count_with_field(self, kind: str, field: str, value: str) -> int:
        """How many objects of `kind` have the top-level string `field` equal to `value`."""
        ...

    def insert(self, row: ObjectRow) -> None: ...

    def update(self, row: ObjectRow, expected_etag: int) -> bool:
        """Write a new version if the stored etag is still `expected_etag`; False if it moved."""
        ...

    def delete(self, object_id: str, kind: str) -> None:
        """Delete an object and its outgoing references (snapshots learn of it)."""
        ...

    def replace_references(
        self, source_id: str, targets: Iterable[tuple[str, str]], *, new: bool = False
    ) -> None:
        """Store the `(pointer, target id)` pairs an object holds (`new`: it held none)."""
        ...

    def referrers(self, target_id: str) -> list[Referrer]: ...


class LibraryStore(Protocol):
    """Library rows of every sandbox."""

    def find_sandbox(self, org: str, name: str) -> Sandbox | None:
        """The sandbox, or None when nothing was ever written to it."""
        ...

    def sandbox_names(self, org: str | None, limit: int) -> list[str]:
        """An org's sandbox names (`org` None: the orgs), sorted, at most `limit`."""
        ...

    def create_sandbox(self, org: str, name: str) -> tuple[Sandbox, bool]:
        """The sandbox, created if need be; True when this call created it."""
        ...

    def get(self, sandbox_pk: int, object_id: str) -> ObjectRow | None: ...

    def all_objects(self, sandbox_pk: int) -> list[ObjectRow]: ...

    def writing(self, org: str, name: str) -> AbstractContextManager[LibraryWrite]:
        """A write transaction on the sandbox (created on first use) holding its next
        revision; it commits when the block ends and rolls back if the block raises."""
        ...


class SnapshotSource(Protocol):
    """Snapshots of sandboxes' libraries at their current revision."""

    def get(self, sandbox_pk: int, max_age: float = 0.0) -> SandboxSnapshot:
        """The current snapshot; with `max_age` > 0 one confirmed that recently will do."""
        ...

    def note_write(self, sandbox_pk: int) -> None:
        """This process committed a write: the next `get` must see it."""
        ...
