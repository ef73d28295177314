"""`nextoffer batch` as a user runs it: `--dry-run`, the capped offers in the summary, and a
progress bar that knows the audience's size."""

from __future__ import annotations

import copy
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from nextoffer.batch.command import BatchArgs, audience_size, run_batch_command
from nextoffer.batch.sources import StoreSource, open_profiles
from nextoffer.cli import _tenant_services, app
from nextoffer.demo import demo_library
from tests.batch.profiles import AUDIENCE, profile_docs, write_jsonl, write_parquet

runner = CliRunner()
HERO = "dps:offer-activity:homepage-and-email:dps:offer-placement:web-hero:2"
CAPPED = "dps:personalized-offer:double-points"
LIMIT = 4


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from nextoffer import cli

    monkeypatch.setattr(cli.err, "width", 200)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """The demo library with a total cap of 4 on double-points, and 15 stored profiles (10 of
    them in the audience)."""
    library = copy.deepcopy(demo_library())
    for offer in library["objects"]["personalized-offer"]:
        if offer["id"] == CAPPED:
            cap = {"enabled": True, "limit": LIMIT, "scope": "global", "entity": "offer"}
            offer["frequencyCappingConstraints"] = [cap]
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(library))
    db = str(tmp_path / "cli.db")
    assert runner.invoke(app, ["library", "import", str(path), "--db", db]).exit_code == 0
    people = write_jsonl(tmp_path / "people.jsonl", profile_docs(15))
    loaded = runner.invoke(app, ["profiles", "load", str(people), "--sandbox", "prod", "--db", db])
    assert loaded.exit_code == 0, loaded.output
    return db


def batch(db: str, out: Path, *args: str):
    common = ["--sandbox", "prod", "--audience", AUDIENCE, "--scope", HERO, "--seed", "4"]
    return runner.invoke(
        app, ["batch", *common, "--out", str(out), "--workers", "0", "--db", db, *args]
    )


def proposals(path: Path) -> Counter[str]:
    rows = pq.read_table(path, columns=["offers"]).column("offers").to_pylist()
    return Counter(o["id"] for offers in rows for o in offers)


def cap_row(output: str) -> list[str]:
    """The cells of the capped offer's row in the 'capped offers' table."""
    table = output[output.index("capped offers (total caps)") :]
    [line] = [line for line in table.splitlines() if line.startswith(f"│ {CAPPED}")]
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_a_dry_run_counts_nothing_and_a_real_run_counts_its_proposals(
    db: str, tmp_path: Path
) -> None:
    dry = batch(db, tmp_path / "dry.parquet", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "capped offers (total caps)" in dry.output
    # offer, name, cap, limit, before, this run, left
    assert cap_row(dry.output)[2:] == ["#0", "4", "0", "4", "cap reached"]
    assert "dry run: nothing was counted toward caps" in dry.output
    assert proposals(tmp_path / "dry.parquet")[CAPPED] == LIMIT

    again = batch(db, tmp_path / "again.parquet", "--dry-run")
    assert cap_row(again.output)[4] == "0", "the dry run before counted nothing"
    assert proposals(tmp_path / "again.parquet")[CAPPED] == LIMIT

    real = batch(db, tmp_path / "real.parquet")
    assert real.exit_code == 0, real.output
    assert cap_row(real.output)[2:] == ["#0", "4", "0", "4", "cap reached"]
    assert "dry run" not in real.output
    assert "counted toward caps" in real.output
    assert (
        pq.read_table(tmp_path / "real.parquet")
        .drop_columns(["propositionId", "timestamp"])
        .equals(
            pq.read_table(tmp_path / "dry.parquet").drop_columns(["propositionId", "timestamp"])
        )
    )

    after = batch(db, tmp_path / "after.parquet", "--dry-run")
    assert cap_row(after.output)[2:] == ["#0", "4", "4", "0", "cap reached"]
    assert proposals(tmp_path / "after.parquet")[CAPPED] == 0


def test_the_progress_total_is_the_audience_size(db: str, tmp_path: Path) -> None:
    services, tenant = _tenant_services(db, None, "prod")
    try:
        store = StoreSource(services.profiles, tenant, with_events=False)
        assert audience_size(store, AUDIENCE) == 10  # every third of the 15 has exited
        assert audience_size(store, "aud-nobody") == 0
        parquet = write_parquet(tmp_path / "in.parquet", profile_docs(7))
        assert audience_size(open_profiles(parquet), AUDIENCE) == 7  # the file's rows
        jsonl = write_jsonl(tmp_path / "in.jsonl", profile_docs(7))
        assert audience_size(open_profiles(jsonl), AUDIENCE) is None  # read once: unknown

        screen = io.StringIO()
        console = Console(file=screen, force_terminal=True, color_system=None, width=160)
        args = BatchArgs(
            sandbox="prod", audience=AUDIENCE, scopes=[HERO], out=tmp_path / "o.parquet"
        )
        code = run_batch_command(args, services.decisions, services.profiles, tenant, console)
        assert code == 0
        shown = screen.getvalue()
        assert "/10 " in shown and "/?" not in shown  # the bar counts towards the total
        assert "eta" in shown
    finally:
        services.close()
