"""`nextoffer profiles load` shows a progress bar (profiles read, ETA) on a terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from nextoffer.demo import demo_library
from tests.batch.profiles import profile_docs, write_jsonl

SRC = Path(__file__).resolve().parents[1] / "src"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def nextoffer(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    # FORCE_COLOR makes rich treat the captured stderr as a terminal, as a user's would be
    env = {**os.environ, "PYTHONPATH": str(SRC), "FORCE_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "nextoffer", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_profiles_load_shows_its_progress_and_the_count(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    library = tmp_path / "demo.json"
    library.write_text(json.dumps(demo_library()))
    assert nextoffer("library", "import", str(library), "--db", db).returncode == 0
    people = write_jsonl(tmp_path / "people.jsonl", profile_docs(450))

    result = nextoffer("profiles", "load", str(people), "--sandbox", "prod", "--db", db)
    assert result.returncode == 0, result.stderr
    shown = ANSI.sub("", result.stderr)
    frames = re.split(r"[\r\n]", shown)
    bars = [f for f in frames if "loading profiles" in f]
    assert bars, result.stderr
    # the first frame and the last one (frames between depend on the refresh rate)
    assert re.search(r"loading profiles \S+ 0 profiles .*eta", bars[0]), bars
    assert re.search(r"loading profiles \S+ 450 profiles .*eta 0:00:00", bars[-1]), bars
    assert "loaded 450 profiles" in shown

    piped = nextoffer(
        "profiles", "load", "-", "--sandbox", "prod", "--db", db, stdin=people.read_bytes()
    )
    assert piped.returncode == 0, piped.stderr
    piped_shown = ANSI.sub("", piped.stderr)
    assert "loaded 450 profiles" in piped_shown and "450 replaced" in piped_shown
