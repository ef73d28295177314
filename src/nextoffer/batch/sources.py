"""Where a batch's profiles come from: Parquet or JSONL files, or the profile store.

Every source yields record batches of `schema.PROFILES`, lazily and a bounded number of rows at
a time, so memory does not grow with the audience. File sources yield every profile and the
workers keep the audience's members (reading membership is parsing, and parsing is what runs
in parallel); the store source asks the store for the audience's members only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from nextoffer.batch import schema
from nextoffer.batch.subjects import KNOWN_STATUSES, segments_of_row
from nextoffer.jsonlines import read_lines
from nextoffer.tenants import Tenant
from nextoffer.vocabulary import MEMBER_STATUSES


class BatchInputError(ValueError):
    """The profiles cannot be read, or the audience has nobody to decide for."""

    def __init__(self, message: str, code: str = "bad-profiles") -> None:
        super().__init__(message)
        self.code = code


class ProfileSource(Protocol):
    """Profiles for a batch: record batches of `schema.PROFILES`."""

    description: str
    """Names the source in messages (a file path, "the profile store")."""

    def batches(
        self, audience: str, statuses: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        """Batches that hold at least every profile with one of `statuses` in `audience`."""
        ...


class ParquetSource:
    """A Parquet file of profiles (columns of `schema.PROFILES`; README "Batch" documents it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = str(path)
        try:
            self._file = pq.ParquetFile(self.path)
        except FileNotFoundError:
            raise BatchInputError(f"{path}: no such file", "no-profiles-file") from None
        except (OSError, pa.ArrowException) as exc:
            raise BatchInputError(f"{path} is not a readable Parquet file: {exc}") from None
        names = set(self._file.schema_arrow.names)
        if "identityMap" not in names and "profileId" not in names:
            raise BatchInputError(
                f"{path} has no identityMap or profileId column; profile files have the columns "
                f"{', '.join(schema.PROFILES.names)}"
            )
        self.columns = [n for n in schema.PROFILES.names if n in names]

    @property
    def rows(self) -> int:
        return int(self._file.metadata.num_rows)

    def batches(
        self, audience: str, statuses: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._file.iter_batches(batch_size=batch_size, columns=self.columns):
                yield normalise(batch)
        except (OSError, pa.ArrowException) as exc:
            raise BatchInputError(f"{self.path} is corrupt: {exc}") from None


class JsonlSource:
    """A file of profile JSON objects, one a line (the shape of README "Batch")."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.description = str(path)
        if not self.path.is_file():
            raise BatchInputError(f"{path}: no such file", "no-profiles-file")

    def batches(
        self, audience: str, statuses: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        def not_json(number: int, reason: str) -> Exception:
            return BatchInputError(f"{self.path} line {number} is not JSON: {reason}")

        rows: list[dict[str, Any]] = []
        with self.path.open("rb") as lines:
            for line in read_lines(lines, not_json):
                if not isinstance(line.value, dict):
                    raise BatchInputError(f"{self.path} line {line.number} is not a JSON object")
                rows.append(line.value)
                if len(rows) >= batch_size:
                    yield profile_batch(rows)
                    rows = []
        if rows:
            yield profile_batch(rows)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def profile_batch(docs: Iterable[Mapping[str, Any]]) -> pa.RecordBatch:
    """Profile JSON objects (`profileId`, `identityMap`, `attributes`, `segmentMembership`,
    `events`) as a record batch of `schema.PROFILES`."""
    columns: list[list[str | None]] = [[] for _ in schema.PROFILES.names]
    for doc in docs:
        pid = doc.get("profileId")
        columns[0].append(None if pid is None else str(pid))
        for i, name in enumerate(schema.JSON_COLUMNS, start=1):
            columns[i].append(_json_or_none(doc.get(name)))
    return pa.RecordBatch.from_arrays(
        [pa.array(c, pa.string()) for c in columns], schema=schema.PROFILES
    )


def normalise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Any readable layout of the profile columns as `schema.PROFILES` (nested -> JSON text)."""
    arrays = []
    for field in schema.PROFILES:
        if field.name not in batch.schema.names:
            arrays.append(pa.nulls(len(batch), pa.string()))
            continue
        column = batch.column(field.name)
        if pa.types.is_string(column.type):
            arrays.append(column)
        elif field.name == "profileId" or pa.types.is_large_string(column.type):
            arrays.append(column.cast(pa.string()))
        else:
            arrays.append(pa.array([_json_or_none(v) for v in column.to_pylist()], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema.PROFILES)


class ProfileLike(Protocol):
    """What the profile store yields (`nextoffer.profiles.Profile`)."""

    profile_id: str
    identities: Mapping[str, tuple[str, ...]]
    attributes: Mapping[str, Any]
    segments: Mapping[str, str]
    events: Sequence[Mapping[str, Any]]


class ProfileStoreLike(Protocol):
    def iter_profiles(
        self,
        tenant: Tenant,
        *,
        audience: str,
        statuses: Sequence[str] = ...,
        batch_size: int = ...,
        with_events: bool = ...,
    ) -> Iterator[list[Any]]: ...


class StoreSource:
    """The audience's members in the profile store, a page at a time (`iter_profiles`)."""

    description = "the profile store"

    def __init__(self, store: ProfileStoreLike, tenant: Tenant, *, with_events: bool) -> None:
        self.store = store
        self.tenant = tenant
        self.with_events = with_events

    def members(self, audience: str, statuses: Sequence[str]) -> int | None:
        """The audience's size, when the store can count it (a progress bar's total)."""
        count = getattr(self.store, "count_members", None)
        return None if count is None else int(count(self.tenant, audience, tuple(statuses)))

    def batches(
        self, audience: str, statuses: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        pages = self.store.iter_profiles(
            self.tenant,
            audience=audience,
            statuses=tuple(statuses),
            batch_size=batch_size,
            with_events=self.with_events,
        )
        for page in pages:
            if page:
                yield profile_batch(store_profile_doc(p, self.with_events) for p in page)


def store_profile_doc(profile: ProfileLike, with_events: bool) -> dict[str, Any]:
    """A stored profile in the profile JSON shape; its first identity is the primary one."""
    identity_map: dict[str, list[dict[str, Any]]] = {}
    for namespace, ids in profile.identities.items():
        identity_map[namespace] = [{"id": i} for i in ids]
    first = next(iter(identity_map.values()), None)
    if first:
        first[0]["primary"] = True
    return {
        "profileId": profile.profile_id,
        "identityMap": identity_map,
        "attributes": dict(profile.attributes),
        "segmentMembership": {"ups": {a: {"status": s} for a, s in profile.segments.items()}},
        "events": list(profile.events) if with_events else None,
    }


def check_audience(
    source: ProfileSource, audience: str, statuses: Sequence[str] = tuple(MEMBER_STATUSES)
) -> None:
    """Refuse an audience nobody was ever in (unknown) or nobody is in now (empty).

    Stops at the first member, so a real audience costs one batch; an empty one costs a scan.
    """
    wanted = set(statuses)
    seen = False
    for batch in source.batches(audience, KNOWN_STATUSES, 4096):
        members = batch.column("segmentMembership").to_pylist()
        attributes = batch.column("attributes").to_pylist()
        for membership, attrs in zip(members, attributes, strict=True):
            try:
                parsed = orjson.loads(attrs) if membership is None and attrs else {}
                status = segments_of_row(membership, parsed if isinstance(parsed, dict) else {})
            except orjson.JSONDecodeError as exc:
                raise BatchInputError(
                    f"{source.description}: a profile is not JSON: {exc}"
                ) from exc
            found = status.get(audience)
            if found in wanted:
                return
            seen = seen or found is not None
    if seen:
        raise BatchInputError(
            f"audience {audience} is empty: nobody in {source.description} is in it now",
            "empty-audience",
        )
    raise BatchInputError(
        f"audience {audience} is unknown: nobody in {source.description} has ever been in it",
        "unknown-audience",
    )


def open_profiles(path: str | Path) -> ProfileSource:
    """A file source by the file's suffix: `.parquet` (or `.pq`) or `.jsonl` (or `.ndjson`)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return ParquetSource(path)
    if suffix in (".jsonl", ".ndjson"):
        return JsonlSource(path)
    raise BatchInputError(
        f"{path}: profiles are read from .parquet or .jsonl files", "bad-profiles-format"
    )
