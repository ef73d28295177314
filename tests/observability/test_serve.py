"""`nextoffer serve` as a real process: metrics merged across `--workers 2` through a
`PROMETHEUS_MULTIPROC_DIR` it makes and removes, the banner printed once, JSON logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

from nextoffer.records.batch_jobs import Job, JobRequest, JobStatus
from nextoffer.store.batch_jobs import JobStore
from nextoffer.store.database import Database
from tests.observability.test_metrics import parse, value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    tmp_path: Path, *args: str, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A server process (its output in a file, read after it stopped), stopped with SIGTERM."""
    port = _free_port()
    log = tmp_path / f"serve-{port}.log"
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEXTOFFER_", "OTEL_", "PROMETHEUS_"))
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "nextoffer", "serve", "--open", "--port", str(port)),
                *(*args, "--db", str(tmp_path / "serve.db")),
            ],
            env={**clean, "TMPDIR": str(scratch), "NEXTOFFER_DECISION_EVENT_WRITER": "thread"}
            | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield base, proc, log
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _health_total(base: str) -> float:
    scraped = parse(httpx.get(f"{base}/metrics").text)  # a fresh connection: either worker
    labels = {"method": "GET", "route": "/v1/health", "status": "200"}
    return value(scraped, "nextoffer_http_requests_total", **labels)


def test_workers_share_one_scrape_and_the_metrics_directory_is_removed(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    with serving(tmp_path, "--workers", "2") as (base, _proc, log):
        [metrics_dir] = list(scratch.glob("nextoffer-metrics-*"))
        before = _health_total(base)
        sent = 0

        def pids() -> set[str]:
            return {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}

        while len(pids()) < 2 or sent < 20:  # fresh connections until both workers counted
            assert httpx.get(f"{base}/v1/health").status_code == 200
            sent += 1
            assert sent < 500, "one worker answered every connection"
        totals = {_health_total(base) - before for _ in range(6)}
        assert totals == {float(sent)}  # every scrape, whichever worker, sees both workers'
    assert not metrics_dir.exists()
    output = log.read_text()
    assert output.count("OPEN MODE") == 1, output


def test_the_job_gauge_is_read_once_whichever_worker_answers(tmp_path: Path) -> None:
    """Under `--workers 2` a queued job is 1 in every scrape, never 1 per worker."""
    env = {"NEXTOFFER_BATCH_RUN_JOBS": "false"}
    with serving(tmp_path, "--workers", "2", **env) as (base, _proc, _log):
        db = Database(f"sqlite:///{tmp_path / 'serve.db'}")
        request = JobRequest("audience", "dataset", (("activity", "placement", None),))
        JobStore(db).create(Job("job-1", "ORG@AdobeOrg", "prod", JobStatus.QUEUED, 0, request))
        db.dispose()
        for _ in range(6):  # fresh connections: either worker
            scraped = parse(httpx.get(f"{base}/metrics").text)
            assert value(scraped, "nextoffer_batch_jobs_in_state", state="queued") == 1
            assert value(scraped, "nextoffer_batch_jobs_in_state", state="completed") == 0


def test_json_logs_from_the_banner_to_each_request(tmp_path: Path) -> None:
    with serving(tmp_path, NEXTOFFER_LOG_FORMAT="json") as (base, _proc, log):
        r = httpx.get(
            f"{base}/data/core/dps/offers?offer-type=personalized",
            headers={"x-gw-ims-org-id": "o@AdobeOrg", "x-sandbox-name": "prod"},
        )
        rid = r.headers["x-request-id"]
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    banner = [x for x in records if "OPEN MODE" in x["message"]]
    assert len(banner) == 1 and banner[0]["level"] == "warning"
    [access] = [x for x in records if x.get("requestId") == rid]
    assert (
        access["logger"] == "nextoffer.access" and access["route"] == "/data/core/dps/{collection}"
    )
    assert access["org"] == "o@AdobeOrg" and access["status"] == r.status_code
    assert any(x["logger"].startswith("uvicorn") for x in records)  # uvicorn's lines too
