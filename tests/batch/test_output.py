"""The leftovers of killed runs: a completed run removes the `.partial` files nobody writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from nextoffer.batch import schema
from nextoffer.batch.output import DecisionWriter, leftovers, remove_leftovers
from nextoffer.cli import app
from nextoffer.demo import demo_library
from tests.batch.profiles import AUDIENCE, profile_docs, write_parquet

SRC = Path(__file__).resolve().parents[2] / "src"
HERO = "dps:offer-activity:homepage-and-email:dps:offer-placement:web-hero:2"


def killed_writer(target: Path) -> Path:
    """A real process that starts writing `target` and is killed (SIGKILL) mid-run: the
    temporary file it leaves."""
    code = textwrap.dedent(
        f"""
        import os, signal
        from nextoffer.batch.output import DecisionWriter
        writer = DecisionWriter({str(target)!r})
        writer._file.write(b"half a file")
        writer._file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    before = set(leftovers(target))
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL
    [left] = set(leftovers(target)) - before
    return left


def empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema.DECISIONS)


def test_a_completed_cli_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    library = tmp_path / "demo.json"
    library.write_text(json.dumps(demo_library()))
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(app, ["library", "import", str(library), "--db", db]).exit_code == 0
    profiles = write_parquet(tmp_path / "in.parquet", profile_docs(30))
    out = tmp_path / "out" / "decisions.parquet"
    out.parent.mkdir()

    first = killed_writer(out)
    second = killed_writer(out)
    assert b"half a file" in first.read_bytes() and second.exists()

    result = runner.invoke(
        app,
        [
            "batch",
            "--sandbox",
            "prod",
            "--audience",
            AUDIENCE,
            "--scope",
            HERO,
            "--profiles",
            str(profiles),
            "--out",
            str(out),
            "--workers",
            "0",
            "--db",
            db,
        ],
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 20
    assert leftovers(out) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["decisions.parquet"]


def test_a_run_still_writing_keeps_its_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    killed = killed_writer(target)
    running = DecisionWriter(target)
    other_target = DecisionWriter(tmp_path / "other.jsonl")  # another output's file
    finished = DecisionWriter(target)
    finished.commit()
    assert not killed.exists()
    assert running.temp.exists() and other_target.temp.exists()
    assert leftovers(target) == [running.temp]
    running.write(empty_batch())
    assert running.commit() == target  # its file was not swept from under it
    assert leftovers(target) == []
    other_target.abort()


def test_a_failed_run_removes_only_its_own_file(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    killed = killed_writer(target)
    failed = DecisionWriter(target)
    failed.abort()
    assert not failed.temp.exists()
    assert killed.exists(), "only a completed run sweeps: a failed one may be retried"
    assert remove_leftovers(target) == 1
    assert not killed.exists() and not target.exists()
