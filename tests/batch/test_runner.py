"""Batches end to end on real files: the online engine's answers, in any worker count."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from nextoffer.batch.executors.local import LocalExecutor
from nextoffer.batch.output import DecisionWriter, OutputError
from nextoffer.batch.runner import BatchCancelled, run_batch
from nextoffer.batch.sources import (
    BatchInputError,
    JsonlSource,
    ParquetSource,
    check_audience,
)
from nextoffer.batch.subjects import profile_seed
from nextoffer.decisioning.decision_service import DecisionService
from nextoffer.wire.calls import DecideCall
from nextoffer.wire.decisioning import InlineProfile, ResponseFormat, segments_of
from nextoffer.wire.decisioning_responses import response_v1
from tests.batch.conftest import APP, EMAIL, HERO, NOW, Demo
from tests.batch.profiles import AUDIENCE, profile_docs, write_jsonl, write_parquet


def online(demo: Demo, doc: dict, scopes, seed: int, include_content: bool = False) -> dict:
    """The Decisioning API's response for one profile, decided at the batch's instant."""
    service = DecisionService(
        demo.services.library, demo.services.decisions.catalogs, clock=lambda: NOW
    )
    segments = segments_of({"segmentMembership": doc["segmentMembership"]})
    identity = doc["identityMap"]["email"][0]["id"]
    result = service.decide(
        DecideCall(
            tenant=demo.tenant,
            scopes=list(scopes),
            identities=[("email", identity)],
            inline=InlineProfile(doc["attributes"], segments),
            seed=profile_seed(seed, f"email:{identity}"),
            dry_run=True,
        ),
        lambda i, f: f,
    )
    return response_v1(result, ResponseFormat(include_content=include_content))


def members(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["segmentMembership"]["ups"][AUDIENCE]["status"] != "exited"]


def test_batch_rows_are_the_online_decisions_for_the_same_profiles_and_seed(
    demo: Demo, tmp_path: Path
) -> None:
    docs = profile_docs(60)
    plan = demo.plan((HERO, EMAIL, APP), include_content=True)
    source = ParquetSource(write_parquet(tmp_path / "in.parquet", docs))
    summary = run_batch(plan, source, LocalExecutor(0), tmp_path / "out.parquet")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    expected = members(docs)
    assert summary.profiles == len(expected) == 40
    assert len(rows) == 3 * len(expected) == summary.rows
    for i, doc in enumerate(expected):
        response = online(demo, doc, plan.scopes, plan.seed, include_content=True)
        for scope, prop in enumerate(response["xdm:propositions"]):
            row = rows[3 * i + scope]
            assert row["identityId"] == doc["identityMap"]["email"][0]["id"]
            assert row["scopeIndex"] == scope
            assert row["activityId"] == prop["xdm:activity"]["xdm:id"]
            assert row["placementId"] == prop["xdm:placement"]["xdm:id"]
            options = prop.get("xdm:options", [])
            assert [o["id"] for o in row["offers"]] == [o["xdm:id"] for o in options]
            assert [o["rank"] for o in row["offers"]] == list(range(1, len(options) + 1))
            assert [o["score"] for o in row["offers"]] == [o.get("xdm:score") for o in options]
            for ours, theirs in zip(row["offers"], options, strict=True):
                content = {k: v for k, v in theirs.items() if k[0] == "@" or k[:3] in "dc:xdm:"}
                for key in ("xdm:id", "xdm:score", "xdm:name", "xdm:characteristics"):
                    content.pop(key, None)
                assert orjson.loads(ours["content"]) == content
            fallback = prop.get("xdm:fallback")
            assert row["fallbackId"] == (fallback["xdm:id"] if fallback else None)
            assert row["timestamp"].timestamp() == NOW.timestamp()
    offers = {o["id"] for r in rows for o in r["offers"]}
    assert len(offers) >= 3, "the profiles should not all get the same offers"


def test_worker_counts_and_input_formats_give_identical_rows(demo: Demo, tmp_path: Path) -> None:
    docs = profile_docs(900)
    plan = demo.plan(batch_size=100)
    parquet = ParquetSource(write_parquet(tmp_path / "in.parquet", docs))
    jsonl = JsonlSource(write_jsonl(tmp_path / "in.jsonl", docs))
    outputs = []
    for name, source, workers in (("a", parquet, 0), ("b", parquet, 2), ("c", jsonl, 1)):
        run_batch(plan, source, LocalExecutor(workers), tmp_path / f"{name}.parquet")
        outputs.append(pq.read_table(tmp_path / f"{name}.parquet"))
    assert outputs[0].num_rows == 600 * 2
    assert outputs[0].equals(outputs[1])
    assert outputs[0].equals(outputs[2])


def test_jsonl_output_holds_one_xdm_decision_event_per_row(demo: Demo, tmp_path: Path) -> None:
    docs = profile_docs(9)
    plan = demo.plan((HERO,), include_content=True)
    source = JsonlSource(write_jsonl(tmp_path / "in.jsonl", docs))
    run_batch(plan, source, LocalExecutor(0), tmp_path / "out.parquet")
    run_batch(plan, source, LocalExecutor(0), tmp_path / "out.jsonl")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    events = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(events) == len(rows) == 6
    for row, event in zip(rows, events, strict=True):
        assert event["_id"] == row["propositionId"]
        assert event["eventType"] == "decisioning.propositionDecide"
        assert event["timestamp"] == "2026-06-01T12:00:00.000Z"
        assert event["identityMap"] == {"email": [{"id": row["identityId"], "primary": True}]}
        [prop] = event["_experience"]["decisioning"]["propositions"]
        assert prop["scopeDetails"]["activity"]["id"] == row["activityId"]
        assert prop["scopeDetails"]["placement"]["id"] == row["placementId"]
        assert [i["id"] for i in prop["items"]] == [o["id"] for o in row["offers"]]
        assert prop["items"][0]["content"]["dc:format"] == "text/html"
        assert event["_experience"]["decisioning"]["propositionEventType"] == {"decision": 1}


def test_nested_parquet_columns_are_read_like_json_text(demo: Demo, tmp_path: Path) -> None:
    import pyarrow as pa

    docs = profile_docs(30)
    nested = pa.Table.from_pylist(
        [
            {
                "profileId": f"p{i}",
                "identityMap": d["identityMap"],
                "attributes": d["attributes"],
                "segmentMembership": d["segmentMembership"],
            }
            for i, d in enumerate(docs)
        ]
    )
    pq.write_table(nested, tmp_path / "nested.parquet")
    summary = run_batch(
        demo.plan(),
        ParquetSource(tmp_path / "nested.parquet"),
        LocalExecutor(0),
        tmp_path / "out.parquet",
    )
    assert summary.profiles == 20
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert rows[0]["profileId"] == "p0" and rows[0]["identityId"] == "user0@example.com"


# -- bad input: a clear error, and no output ---------------------------------------------------


def assert_no_output(directory: Path) -> None:
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".") or "out" in p.name]
    assert leftovers == [], leftovers


def test_corrupt_parquet_is_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    path.write_bytes(b"PAR1 this is not really parquet at all")
    with pytest.raises(BatchInputError, match="not a readable Parquet file"):
        ParquetSource(path)
    with pytest.raises(BatchInputError, match="no such file"):
        ParquetSource(tmp_path / "missing.parquet")


def test_parquet_corrupt_midway_leaves_no_output(demo: Demo, tmp_path: Path) -> None:
    good = write_parquet(tmp_path / "good.parquet", profile_docs(3000))
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400] = b"\xff" * 400  # a damaged page; header and footer intact
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    source = ParquetSource(bad)
    out = tmp_path / "outdir"
    out.mkdir()
    with pytest.raises(BatchInputError, match="corrupt"):
        run_batch(demo.plan(batch_size=64), source, LocalExecutor(0), out / "out.parquet")
    assert list(out.iterdir()) == []


def test_a_profile_that_is_not_json_names_its_line(demo: Demo, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(orjson.dumps(profile_docs(1)[0]).decode() + "\n{not json\n")
    out = tmp_path / "outdir"
    out.mkdir()
    with pytest.raises(BatchInputError, match="line 2 is not JSON"):
        run_batch(demo.plan(), JsonlSource(path), LocalExecutor(0), out / "out.parquet")
    assert list(out.iterdir()) == []


def test_unknown_and_empty_audiences_are_told_apart(tmp_path: Path) -> None:
    docs = profile_docs(6)
    for d in docs:
        d["segmentMembership"]["ups"]["aud-gone"] = {"status": "exited"}
    source = JsonlSource(write_jsonl(tmp_path / "in.jsonl", docs))
    check_audience(source, AUDIENCE)
    with pytest.raises(BatchInputError, match="audience aud-gone is empty") as empty:
        check_audience(source, "aud-gone")
    assert empty.value.code == "empty-audience"
    with pytest.raises(BatchInputError, match="audience nope is unknown") as unknown:
        check_audience(source, "nope")
    assert unknown.value.code == "unknown-audience"


def test_an_audience_with_nobody_in_the_file_writes_nothing(demo: Demo, tmp_path: Path) -> None:
    source = JsonlSource(write_jsonl(tmp_path / "in.jsonl", profile_docs(5)))
    out = tmp_path / "outdir"
    with pytest.raises(BatchInputError, match="is empty") as info:
        run_batch(demo.plan(audience="other"), source, LocalExecutor(0), out / "out.parquet")
    assert info.value.code == "empty-audience"
    assert list(out.iterdir()) == []


def test_an_unwritable_output_path_is_refused_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputError, match="cannot create"):
        DecisionWriter(blocker / "out.parquet")
    with pytest.raises(OutputError, match=r"\.parquet or \.jsonl"):
        DecisionWriter(tmp_path / "out.csv")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        DecisionWriter(tmp_path / "dir.parquet")
    with pytest.raises(OutputError, match="cannot write to /proc"):
        DecisionWriter("/proc/out.parquet")  # not writable, even by root


def test_a_cancelled_batch_leaves_the_previous_output_untouched(demo: Demo, tmp_path: Path) -> None:
    source = ParquetSource(write_parquet(tmp_path / "in.parquet", profile_docs(2000)))
    out = tmp_path / "outdir"
    out.mkdir()
    target = out / "out.parquet"
    target.write_bytes(b"yesterday's file")
    seen = []

    def cancelled() -> bool:
        seen.append(1)
        return len(seen) > 2

    with pytest.raises(BatchCancelled):
        run_batch(
            demo.plan(batch_size=100),
            source,
            LocalExecutor(2),
            target,
            cancelled=cancelled,
        )
    assert [p.name for p in out.iterdir()] == ["out.parquet"]
    assert target.read_bytes() == b"yesterday's file"
