"""`nextoffer batch` for real: a SQLite library, profile files, the output on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nextoffer.batch.scopes import ScopeSyntaxError, parse_scope
from nextoffer.cli import app
from nextoffer.demo import demo_library
from nextoffer.engine import build_catalog
from tests.batch.profiles import AUDIENCE, profile_docs, write_jsonl, write_parquet

runner = CliRunner()
HERO = "dps:offer-activity:homepage-and-email:dps:offer-placement:web-hero:2"
APP = "dps:offer-activity:app-home,dps:offer-placement:app-card"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from nextoffer import cli

    monkeypatch.setattr(cli.err, "width", 200)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(demo_library()))
    db = str(tmp_path / "cli.db")
    assert runner.invoke(app, ["library", "import", str(path), "--db", db]).exit_code == 0
    return db


def batch(db: str, *args: str):
    return runner.invoke(
        app, ["batch", "--sandbox", "prod", "--audience", AUDIENCE, "--db", db, *args]
    )


def test_batch_from_a_parquet_file_with_a_summary(db: str, tmp_path: Path) -> None:
    profiles = write_parquet(tmp_path / "in.parquet", profile_docs(90))
    out = tmp_path / "out.parquet"
    result = batch(
        db, "--scope", HERO, "--scope", APP, "--profiles", str(profiles), "--out", str(out),
        "--workers", "2", "--seed", "3", "--include-content",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "done: 60 profiles, 120 decision rows" in result.output
    assert "seed 3" in result.output
    assert "proposals per offer" in result.output
    assert "dps:personalized-offer:double-points" in result.output
    table = pq.read_table(out)
    assert table.num_rows == 120
    rows = table.to_pylist()
    assert rows[0]["placementId"] == "dps:offer-placement:web-hero"
    assert len(rows[0]["offers"]) == 2 and rows[0]["offers"][0]["content"]
    assert rows[1]["activityId"] == "dps:offer-activity:app-home"

    again = tmp_path / "again.parquet"
    result = batch(
        db, "--scope", HERO, "--scope", APP, "--profiles", str(profiles), "--out", str(again),
        "--workers", "0", "--seed", "3", "--include-content",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mine = pq.read_table(again).drop_columns(["propositionId", "timestamp"])
    assert mine.equals(table.drop_columns(["propositionId", "timestamp"]))


def test_batch_from_jsonl_to_jsonl(db: str, tmp_path: Path) -> None:
    profiles = write_jsonl(tmp_path / "in.jsonl", profile_docs(12))
    out = tmp_path / "events.jsonl"
    result = batch(
        db, "--scope", HERO, "--profiles", str(profiles), "--out", str(out), "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 8
    assert events[0]["identityMap"] == {"email": [{"id": "user0@example.com", "primary": True}]}

    def expected(doc: dict) -> list[str]:
        """The demo library on web-hero: the lounge pass for gold members first, then double
        points; the city break for Germany, else Black Friday."""
        tier, country = doc["attributes"]["loyalty"]["tier"], doc["attributes"]["homeAddress"]
        if tier == "gold":
            return ["gold-lounge", "double-points"]
        return ["double-points", "city-break" if country["countryCode"] == "DE" else "black-friday"]

    docs = profile_docs(12)
    members = [d for d in docs if d["segmentMembership"]["ups"][AUDIENCE]["status"] != "exited"]
    proposed = {
        e["identityMap"]["email"][0]["id"]: [
            item["id"].removeprefix("dps:personalized-offer:")
            for item in e["_experience"]["decisioning"]["propositions"][0]["items"]
        ]
        for e in events
    }
    assert proposed == {d["identityMap"]["email"][0]["id"]: expected(d) for d in members}
    assert {e["_experience"]["decisioning"]["propositions"][0]["scopeDetails"]["placement"]["id"]
            for e in events} == {"dps:offer-placement:web-hero"}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "nobody-here"], "audience nobody-here is unknown"),
        (["--scope", "dps:offer-activity:nope,dps:offer-placement:web-hero"], "no decision"),
        (["--scope", "justone"], "cannot tell the decision from the placement"),
        (["--scope", HERO.replace(":2", ":99")], "item count must be 1 to 30"),
        (["--executor", "spark"], "unknown executor 'spark'; choose one of local, ray"),
        (["--out", "{tmp}/out.csv"], "write decisions to a .parquet or .jsonl file"),
        (["--out", "/proc/out.parquet"], "cannot write to /proc"),
        (["--profiles", "{tmp}/missing.parquet"], "no such file"),
        (["--profiles", "{tmp}/corrupt.parquet"], "is not a readable Parquet file"),
        (["--profiles", "{tmp}/profiles.csv"], "from .parquet or .jsonl files"),
    ],
)
def test_bad_input_exits_non_zero_with_a_reason_and_no_output(
    db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "corrupt.parquet").write_bytes(b"PAR1 definitely not parquet PAR1")
    profiles = write_parquet(tmp_path / "in.parquet", profile_docs(6))
    base = {"--scope": HERO, "--profiles": str(profiles), "--out": str(tmp_path / "out.parquet")}
    given = dict(zip(args[::2], (a.format(tmp=tmp_path) for a in args[1::2]), strict=True))
    audience = given.pop("--audience", AUDIENCE)
    options = [x for k, v in {**base, **given}.items() for x in (k, v)]
    command = ["batch", "--sandbox", "prod", "--audience", audience, "--db", db, "--workers"]
    result = runner.invoke(app, [*command, "0", *options])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "out.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_an_empty_audience_is_refused(db: str, tmp_path: Path) -> None:
    docs = profile_docs(3)
    for d in docs:
        d["segmentMembership"]["ups"][AUDIENCE]["status"] = "exited"
    profiles = write_jsonl(tmp_path / "in.jsonl", docs)
    out = tmp_path / "out.parquet"
    result = batch(db, "--scope", HERO, "--profiles", str(profiles), "--out", str(out))
    assert result.exit_code == 2
    assert f"audience {AUDIENCE} is empty" in result.output
    assert not out.exists()


def test_batch_reads_the_audience_from_the_profile_store(db: str, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = batch(db, "--scope", HERO, "--out", str(out), "--workers", "0")
    assert result.exit_code == 2
    assert f"audience {AUDIENCE} is unknown: nobody in the profile store" in result.output
    assert not out.exists()
    docs = write_jsonl(tmp_path / "people.jsonl", profile_docs(15))
    loaded = runner.invoke(app, ["profiles", "load", str(docs), "--sandbox", "prod", "--db", db])
    assert loaded.exit_code == 0, loaded.output
    result = batch(db, "--scope", HERO, "--out", str(out), "--workers", "1", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert "done: 10 profiles, 10 decision rows" in result.output
    rows = pq.read_table(out).to_pylist()
    assert {r["identityId"] for r in rows} == {
        d["identityMap"]["email"][0]["id"]
        for d in profile_docs(15)
        if d["segmentMembership"]["ups"][AUDIENCE]["status"] != "exited"
    }


def test_scope_arguments_split_where_the_catalog_says() -> None:
    catalog = build_catalog(
        {k: {o["id"]: o for o in v} for k, v in demo_library()["objects"].items()}
    )
    scope = parse_scope(HERO, catalog)
    assert (scope.activity_id, scope.placement_id, scope.item_count) == (
        "dps:offer-activity:homepage-and-email",
        "dps:offer-placement:web-hero",
        2,
    )
    assert parse_scope(APP, catalog).placement_id == "dps:offer-placement:app-card"
    # ids the catalog does not know still split before the placement's prefix
    unknown = parse_scope("xcore:offer-activity:1:xcore:offer-placement:2", catalog)
    assert unknown.activity_id == "xcore:offer-activity:1"
    assert unknown.placement_id == "xcore:offer-placement:2" and unknown.item_count is None
    with pytest.raises(ScopeSyntaxError):
        parse_scope("a,b,c,d", catalog)
