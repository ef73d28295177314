"""Large `/v1/profiles/bulk` loads run in a worker process (`store/profile_loads.py`): the same
answers, errors and all-or-nothing check as a load in the server, and a worker that dies is a
`503` that loses nothing the client cannot finish by sending the load again."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from nextoffer.store.profile_loads import IN_PROCESS_BYTES
from tests.helpers import Api, assert_problem

NDJSON = {"Content-Type": "application/x-ndjson"}
PAD = "x" * 300


def profile(i: int) -> dict[str, object]:
    return {
        "identityMap": {"email": [{"id": f"p{i}@example.com"}]},
        "attributes": {"n": i, "pad": PAD},
    }


def large(count: int = 3_600) -> list[dict[str, object]]:
    docs = [profile(i) for i in range(count)]
    assert len(jsonl(docs)) > IN_PROCESS_BYTES  # the worker's path, not the write lane's
    return docs


def jsonl(docs: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(d).encode() + b"\n" for d in docs)


def workers() -> set[int]:
    """This process's children that are spawned multiprocessing workers."""
    found = set()
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmdline:
                found.add(int(pid))
    return found


def test_a_large_load_runs_in_a_worker_process_with_the_same_answer(api: Api) -> None:
    docs = large()
    r = api.request("POST", "/v1/profiles/bulk", content=jsonl(docs), headers=NDJSON)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": len(docs), "replaced": 0, "total": len(docs)}
    assert workers(), "the load ran without a worker process"
    last = api.get(f"/v1/profiles/email/p{len(docs) - 1}@example.com")
    assert last.status_code == 200 and last.json()["attributes"]["n"] == len(docs) - 1


def test_a_large_json_array_loads_in_a_worker_too(api: Api) -> None:
    docs = large()
    r = api.request(
        "POST",
        "/v1/profiles/bulk",
        content=json.dumps(docs).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(docs)
    assert api.get("/v1/profiles/email/p7@example.com").json()["attributes"]["n"] == 7


def test_a_bad_line_of_a_large_load_is_named_and_nothing_is_written(api: Api) -> None:
    docs = large()
    docs[2_500] = {**docs[2_500], "segments": {"s": 1}}
    r = api.request("POST", "/v1/profiles/bulk", content=jsonl(docs), headers=NDJSON)
    body = assert_problem(r, 400, "invalid-profile", "/segments/s")
    assert body["line"] == 2_501 and "line 2501" in body["detail"]
    assert_problem(api.get("/v1/profiles/email/p0@example.com"), 404)
    not_json = jsonl(docs[:2_000]) + b"{oops\n" + jsonl(docs[2_001:])
    body = assert_problem(
        api.request("POST", "/v1/profiles/bulk", content=not_json, headers=NDJSON),
        400,
        "malformed-json",
    )
    assert body["line"] == 2_001
    array = assert_problem(
        api.request(
            "POST",
            "/v1/profiles/bulk",
            content=b'{"not": "an array", "pad": "' + b"y" * IN_PROCESS_BYTES + b'"}',
            headers={"Content-Type": "application/json"},
        ),
        400,
        "invalid-body",
        "",
    )
    assert "JSON array" in array["detail"]


def test_a_worker_killed_mid_load_is_a_503_and_sending_the_load_again_finishes_it(
    api: Api,
) -> None:
    docs = large()
    before = workers()
    answers: list[object] = []
    load = threading.Thread(
        target=lambda: answers.append(
            api.request("POST", "/v1/profiles/bulk", content=jsonl(docs), headers=NDJSON)
        )
    )
    load.start()
    deadline = time.monotonic() + 60
    killed: set[int] = set()
    while load.is_alive() and not killed and time.monotonic() < deadline:
        for pid in workers() - before or workers():
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.01)
    load.join(120)
    assert killed, "no worker process ran the load"
    r = answers[0]
    body = assert_problem(r, 503, "busy")  # type: ignore[arg-type]
    assert "send the load again" in body["detail"]
    assert r.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    again = api.request("POST", "/v1/profiles/bulk", content=jsonl(docs), headers=NDJSON)
    assert again.status_code == 200, again.text
    assert again.json()["total"] == len(docs)
    assert api.get("/v1/profiles/email/p3599@example.com").status_code == 200
