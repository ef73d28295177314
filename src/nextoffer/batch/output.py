"""Writing decision rows: Parquet (schema.DECISIONS) or JSONL of XDM decision events.

Rows go to a hidden temporary file beside the target and are renamed onto it only when the job
commits, so a job that fails or is cancelled leaves no file that looks complete, and a reader
never sees half a file. The target directory is checked for writability before any work.

A process killed mid-run (`kill -9`, a crashed node) cannot remove its temporary file. Each
writer holds an exclusive `flock` on its own for as long as it writes (the kernel releases it when
the process dies), and a commit removes the target's other temporary files that nobody holds:
the leftovers of earlier attempts, never the file of a run still writing.
"""

from __future__ import annotations

import fcntl
import glob
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from nextoffer.batch import schema
from nextoffer.wire.scopes import scope_token

FORMATS = ("parquet", "jsonl")
_ROW_GROUP = 65_536
EVENT_TYPE = "decisioning.propositionDecide"


class OutputError(OSError):
    """The output cannot be written where asked."""

    code = "output-not-writable"


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise OutputError(f"{path}: write decisions to a .parquet or .jsonl file")


class DecisionWriter:
    """Streams decision batches to `path` through a temporary file; `commit` publishes it."""

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.format = fmt or format_of(self.path)
        if self.format not in FORMATS:
            raise OutputError(f"unknown output format {self.format!r}")
        directory = self.path.parent
        if self.path.is_dir():
            raise OutputError(f"{self.path} is a directory")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {directory}: {exc.strerror}") from None
        self.temp = directory / f".{self.path.name}.{uuid.uuid4().hex[:12]}.partial"
        starting = self.temp.with_suffix(".starting")
        try:
            self._file: BinaryIO = starting.open("xb")
            _hold(self._file)  # locked before it is visible as a .partial another run may sweep
            os.rename(starting, self.temp)
        except OSError as exc:
            raise OutputError(f"cannot write to {directory}: {exc.strerror}") from None
        self._parquet: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0
        if self.format == "parquet":
            self._parquet = pq.ParquetWriter(self._file, schema.DECISIONS, compression="zstd")

    def write(self, batch: pa.RecordBatch) -> None:
        if not len(batch):
            return
        self.rows += len(batch)
        if self._parquet is None:
            self._file.write(b"".join(event_lines(batch)))
            return
        self._pending.append(batch)
        self._pending_rows += len(batch)
        if self._pending_rows >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._parquet is not None:
            self._parquet.write_table(pa.Table.from_batches(self._pending, schema.DECISIONS))
        self._pending, self._pending_rows = [], 0

    def commit(self) -> Path:
        """Finish the file and move it onto the target in one rename."""
        self._flush()
        if self._parquet is not None:
            self._parquet.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        os.replace(self.temp, self.path)
        self._file.close()
        remove_leftovers(self.path)
        return self.path

    def abort(self) -> None:
        """Drop everything written; the target is left as it was."""
        try:
            if self._parquet is not None:
                self._parquet.close()
        except Exception:  # a broken writer is being thrown away anyway
            pass
        self._file.close()
        self.temp.unlink(missing_ok=True)


def _hold(file: BinaryIO) -> bool:
    """Take the exclusive lock of an open temporary file without waiting; False: held elsewhere."""
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def leftovers(path: Path) -> list[Path]:
    """The temporary files of `path`'s writers, finished or not (`.<name>.<hex>.partial`)."""
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.partial"))


def remove_leftovers(path: Path) -> int:
    """Remove the temporary files of `path` that no running writer holds; how many."""
    removed = 0
    for temp in leftovers(path):
        try:
            with temp.open("rb") as file:
                if _hold(file):
                    temp.unlink()
                    removed += 1
        except FileNotFoundError:  # its writer committed or aborted meanwhile
            continue
    return removed


def event_lines(batch: pa.RecordBatch) -> Iterator[bytes]:
    """Each row as one XDM decision event (README "Batch" shows one), newline-terminated."""
    for row in batch.to_pylist():
        yield orjson.dumps(decision_event(row)) + b"\n"


def decision_event(row: dict[str, Any]) -> dict[str, Any]:
    """One decision row in the ODE DecisionEvents shape (`_experience.decisioning`)."""
    activity, placement = row["activityId"], row["placementId"]
    items = []
    for offer in row["offers"]:
        item: dict[str, Any] = {"id": offer["id"], "rank": offer["rank"]}
        if offer["score"] is not None:
            item["score"] = offer["score"]
        if offer["content"] is not None:
            item["content"] = orjson.loads(offer["content"])
        items.append(item)
    proposition: dict[str, Any] = {
        "id": row["propositionId"],
        "scope": scope_token(activity, placement),
        "scopeDetails": {
            "activity": {"id": activity},
            "placement": {"id": placement},
            "scopeIndex": row["scopeIndex"],
        },
        "items": items,
    }
    if row["fallbackId"] is not None:
        fallback: dict[str, Any] = {"id": row["fallbackId"]}
        if row["fallbackContent"] is not None:
            fallback["content"] = orjson.loads(row["fallbackContent"])
        proposition["fallback"] = fallback
    event: dict[str, Any] = {
        "_id": row["propositionId"],
        "eventType": EVENT_TYPE,
        "timestamp": row["timestamp"].strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{row['timestamp'].microsecond // 1000:03d}Z",
        "identityMap": {},
        "_experience": {
            "decisioning": {
                "propositions": [proposition],
                "propositionEventType": {"decision": 1},
            }
        },
    }
    if row["identityNamespace"] is not None:
        event["identityMap"] = {
            row["identityNamespace"]: [{"id": row["identityId"], "primary": True}]
        }
    if row["profileId"] is not None:
        event["nextoffer:profileId"] = row["profileId"]
    return event
