"""One node, quiet and then under a bulk load plus an anonymous Edge event flood (issue 15).

    python benchmarks/bench_stall.py [--profiles 1000000] [--seconds 20] [--flood 16]

One uvicorn worker pinned to core 0 serves a SQLite file; everything else (wrk, curl) runs on
core 1. The same two probes run four times on the same server, side by side: on the quiet node;
while `--flood` connections send anonymous Edge `collect` events (a page view for a new ECID
each: every one is a write) as fast as the node answers them; while `POST /v1/profiles/bulk`
loads `--profiles` new profiles (JSON Lines, sent by curl); and during both at once:

* `GET /v1/health`, paced at 100/s (target: p99 <= 50 ms under the load);
* an uncapped decision (the decisions benchmark's library and request), paced at 200/s
  (target: p99 <= 20 ms under the load).

The probes start `--settle` seconds after the load and the flood do and run in windows of
`--seconds`, one after another for as long as the load runs (its check pass and its writing
steps alike; at most `--max-windows`), the flood with them; the table gives the median p50 and
the worst window's p99. `--situations` picks which of the four run.
The flood's answers are counted by status: `204` kept, `503` refused as busy (the writer was
held longer than `NEXTOFFER_WRITE_WAIT_SECONDS`). Needs `wrk` and `curl`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import wrk
from benchmarks.bench_capping import libraries
from benchmarks.bench_decisions import ORG, bodies
from benchmarks.harness import Server, headers, machine, pin

HEALTH_RATE, DECISION_RATE = 100.0, 200.0
TARGETS = {"health": 50.0, "decision": 20.0}
"""p99 under the load, ms (issue 15)."""

_FLOOD_SCRIPT = """
local bodies = {bodies}
local i = 0
kept, busy, other = 0, 0, 0
local flooders = {{}}
function setup(thread)
  table.insert(flooders, thread)
end
function request()
  i = i + 1
  return wrk.format("POST", nil, {{["Content-Type"]="application/json"}}, bodies[(i % #bodies) + 1])
end
function response(status, hdrs, body)
  if status == 204 then kept = kept + 1 elseif status == 503 then busy = busy + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local k, b, o = 0, 0, 0
  for _, t in ipairs(flooders) do
    k = k + t:get("kept"); b = b + t:get("busy"); o = o + t:get("other")
  end
  io.write(string.format("STATUS 204 %d\\nSTATUS 503 %d\\nSTATUS other %d\\n", k, b, o))
  io.write(string.format("RESULT %d %d\\n", summary.requests, summary.duration))
end
"""
"""`response()` runs in each wrk thread's own Lua state and `done()` in the main one: the
counts are globals of the thread states, read back through `thread:get`."""


def write_profiles(path: Path, n: int, first: int = 0) -> int:
    """`n` new profiles as JSON Lines (e-mail and ECID, nested attributes, audiences), numbered
    from `first`; the file's size."""
    rnd = random.Random(first)
    tiers = ["bronze", "silver", "gold"]
    with path.open("w") as out:
        for i in range(first, first + n):
            doc = {
                "identityMap": {
                    "Email": [{"id": f"bulk{i}@example.com"}],
                    "ECID": [{"id": f"{i:038d}"}],
                },
                "attributes": {
                    "person": {"name": {"firstName": f"First{i}", "lastName": f"Last{i % 977}"}},
                    "loyalty": {"tier": rnd.choice(tiers), "points": i % 50000},
                    "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE"])},
                },
                "segments": {f"aud-{i % 20}": "realized"},
            }
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    return path.stat().st_size


def flood_bodies(n: int) -> list[str]:
    """Anonymous page views, each for an ECID the node has never seen (a new profile each)."""
    out = []
    for i in range(n):
        ecid = f"9{random.Random(i).randrange(10**36):037d}"
        event = {
            "xdm": {
                "eventType": "web.webpagedetails.pageViews",
                "identityMap": {"ECID": [{"id": ecid}]},
                "web": {"webPageDetails": {"URL": f"https://shop.example/p/{i}"}},
            }
        }
        out.append(json.dumps({"events": [event]}))
    return out


def flood(url: str, seconds: float, connections: int, into: dict[str, object]) -> None:
    """Closed-loop wrk on the Edge collect endpoint; answers counted by status into `into`."""
    lua = "{" + ",".join(wrk._lua_string(b) for b in flood_bodies(2000)) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_FLOOD_SCRIPT.format(bodies=lua))
        script = f.name
    try:
        out = subprocess.run(
            [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", script, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    into["statuses"] = dict(re.findall(r"STATUS (\w+) (\d+)", out))
    m = re.search(r"RESULT (\d+) (\d+)", out)
    into["rps"] = int(m.group(1)) / (int(m.group(2)) / 1e6) if m else float("nan")


def probes(server: Server, static: list[bytes], seconds: float, decide_p50: float) -> list:
    """Health and decisions, paced, at the same time; their wrk results."""
    h = {**headers(ORG), "Content-Type": "application/json"}
    results: dict[str, wrk.WrkResult] = {}

    def health() -> None:
        results["health"] = wrk.run(
            "health",
            f"{server.base}/v1/health",
            seconds=seconds,
            connections=4,
            rate=HEALTH_RATE,
            latency_ms=1.0,
        )

    def decisions() -> None:
        results["decision"] = wrk.run(
            "decision",
            f"{server.base}/data/core/ods/decisions",
            method="POST",
            bodies=static,
            headers=h,
            seconds=seconds,
            connections=8,
            rate=DECISION_RATE,
            latency_ms=decide_p50,
        )

    threads = [threading.Thread(target=health), threading.Thread(target=decisions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results["health"], results["decision"]]


@dataclass
class Scenario:
    name: str
    windows: list[list[wrk.WrkResult]]
    """Each probe window's [health, decision] results."""
    load: str = ""
    flood: str = ""

    def spread(self) -> str:
        """Each probe's p99 over the windows: median, 90th percentile and worst, ms."""
        if len(self.windows) < 2:
            return ""
        parts = []
        for i, probe in enumerate(("health", "decision")):
            p99s = sorted(w[i].p99_ms for w in self.windows)
            p90 = p99s[min(len(p99s) - 1, round(0.9 * (len(p99s) - 1)))]
            parts.append(
                f"{probe} p99 by window: median {statistics.median(p99s):.1f}, "
                f"90th percentile {p90:.1f}, worst {p99s[-1]:.1f}, "
                f"windows over the target {sum(p > TARGETS[probe] for p in p99s)}"
            )
        return "; ".join(parts)

    def row(self) -> str:
        """Median p50 and worst p99 over the windows."""
        health = [w[0] for w in self.windows]
        decision = [w[1] for w in self.windows]
        return (
            f"| {self.name} | {len(self.windows)} "
            f"| {statistics.median(r.p50_ms for r in health):.2f} "
            f"| {max(r.p99_ms for r in health):.2f} "
            f"| {statistics.median(r.p50_ms for r in decision):.2f} "
            f"| {max(r.p99_ms for r in decision):.2f} "
            f"| {statistics.median(r.rps for r in decision):,.0f} |"
        )


def upload(server: Server, path: Path) -> subprocess.Popen[str]:
    """curl sends the file to `POST /v1/profiles/bulk` (its answer, then the HTTP status)."""
    return subprocess.Popen(
        [
            *pin(1),
            "curl",
            "-s",
            "-X",
            "POST",
            "--data-binary",
            f"@{path}",
            "-H",
            "Content-Type: application/x-ndjson",
            *[f"-H{k}: {v}" for k, v in headers(ORG).items()],
            "-w",
            "\n%{http_code}",
            f"{server.base}/v1/profiles/bulk",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def rss_mb(pid: int) -> float:
    """A process's resident memory, MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


class PeakMemory:
    """Samples the server's and each of its child processes' resident memory twice a second
    (the bulk load runs in a child: `store/profile_loads.py`); the peaks, MB."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.server = 0.0
        self.child = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.server = max(self.server, rss_mb(self.pid))
            for child in children(self.pid):
                self.child = max(self.child, rss_mb(child))

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        return (
            f"peak resident memory: server {self.server:,.0f} MB, "
            f"largest child {self.child:,.0f} MB"
        )


def loaded(
    server: Server,
    name: str,
    args: argparse.Namespace,
    static: list[bytes],
    decide_p50: float,
    collect_url: str,
    profiles: Path | None,
    flood_connections: int,
) -> Scenario:
    """The probes while a bulk load of `profiles` runs and/or a flood hammers the Edge: window
    after window for as long as the load runs (its check pass and its writing steps alike, up
    to `--max-windows`), else one window; the flood runs until the last window ends."""
    began = time.perf_counter()
    memory = PeakMemory(server.proc.pid)
    sending = upload(server, profiles) if profiles else None
    stop = threading.Event()
    flooded: list[dict[str, object]] = []

    def flooding_loop() -> None:
        while not stop.is_set():
            window: dict[str, object] = {}
            flood(collect_url, args.seconds, flood_connections, window)
            flooded.append(window)

    flooding = threading.Thread(target=flooding_loop)
    if flood_connections:
        flooding.start()
    time.sleep(args.settle)
    windows = [probes(server, static, args.seconds, decide_p50)]
    while sending is not None and sending.poll() is None and len(windows) < args.max_windows:
        windows.append(probes(server, static, args.seconds, decide_p50))
    running = sending is not None and sending.poll() is None
    stop.set()
    if flood_connections:
        flooding.join()
    out = Scenario(name, windows)
    if sending is not None:
        answer, _ = sending.communicate()
        seconds = time.perf_counter() - began
        body, _, status = answer.rpartition("\n")
        out.load = (
            f"bulk load of {args.profiles:,} profiles: HTTP {status} {body[:80]}, {seconds:,.0f} s "
            f"({args.profiles / seconds:,.0f} profiles/s), probed in {len(windows)} windows, "
            f"still running when the probes ended: {'yes' if running else 'no'}; {memory.stop()}"
        )
    if flood_connections:
        statuses: dict[str, int] = {}
        for window in flooded:
            for code, n in dict(window.get("statuses", {})).items():  # type: ignore[call-overload]
                statuses[code] = statuses.get(code, 0) + int(n)
        rates = [float(w["rps"]) for w in flooded if "rps" in w]  # type: ignore[arg-type]
        out.flood = (
            f"Edge flood, {flood_connections} connections: "
            f"{statistics.median(rates) if rates else float('nan'):,.0f} answers/s; by status "
            + ", ".join(f"{s}: {n:,}" for s, n in statuses.items())
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="each probe window")
    parser.add_argument("--flood", type=int, default=16, help="Edge flood connections")
    parser.add_argument("--settle", type=float, default=5.0, help="upload head start, seconds")
    parser.add_argument(
        "--quiet-windows",
        type=int,
        default=1,
        help="probe windows on the quiet node (more: the machine's own spread, to compare)",
    )
    parser.add_argument(
        "--max-windows", type=int, default=120, help="probe windows at most during one load"
    )
    parser.add_argument(
        "--situations",
        default="quiet,flood,bulk,both",
        help="which to run, of quiet,flood,bulk,both (the quiet node always runs: the baseline)",
    )
    args = parser.parse_args()
    if not wrk.available() or shutil.which("curl") is None:
        sys.exit("this benchmark needs wrk and curl: apt-get install wrk curl")
    from nextoffer.composition import Services
    from nextoffer.config import Settings
    from nextoffer.library.portable import import_library
    from nextoffer.tenants import Actor, Tenant

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/stall.db"
        services = Services.build(Settings(database_url=url, open_mode=True))
        plain, _ = libraries()
        tenant = Tenant(ORG, "prod")
        import_library(services.library, tenant, Actor("bench", "bench"), plain)
        stream = services.datastream_admin.create(tenant, {"name": "site"})
        services.close()
        services.db.dispose()
        began = time.perf_counter()
        files = [Path(tmp) / f"profiles-{i}.jsonl" for i in range(2)]
        size = 0
        for i, path in enumerate(files):
            size = write_profiles(path, args.profiles, first=i * args.profiles)
        print(
            f"2 x {args.profiles:,} profiles, {size / 1e6:,.0f} MB of JSON Lines each, written in "
            f"{time.perf_counter() - began:.0f} s",
            file=sys.stderr,
        )
        server = Server(url)
        collect_url = f"{server.base}/ee/v2/collect?configId={stream['id']}"
        try:
            static = bodies(200, "static")
            h = {**headers(ORG), "Content-Type": "application/json"}
            warm = wrk.run(
                "warm-up",
                f"{server.base}/data/core/ods/decisions",
                method="POST",
                bodies=static,
                headers=h,
                seconds=3,
                connections=8,
            )
            common = (args, static, warm.p50_ms, collect_url)
            wanted = set(args.situations.split(","))
            quiet = [
                probes(server, static, args.seconds, warm.p50_ms) for _ in range(args.quiet_windows)
            ]
            scenarios = [Scenario("quiet node", quiet)]
            if "flood" in wanted:
                scenarios.append(loaded(server, "Edge flood only", *common, None, args.flood))
            if "bulk" in wanted:
                scenarios.append(loaded(server, "bulk load only", *common, files[0], 0))
            if "both" in wanted:
                scenarios.append(
                    loaded(server, "bulk load + Edge flood", *common, files[1], args.flood)
                )
        finally:
            server.stop()

    print(
        f"\nStall benchmark, SQLite, one uvicorn worker on core 0; wrk and curl on core 1 — "
        f"{machine()}; {args.profiles:,} profiles per load ({size / 1e6:,.0f} MB), "
        f"{args.flood} flood connections\n"
    )
    print(
        "| node | windows | health p50 ms | health p99 ms (worst window) | decision p50 ms "
        "| decision p99 ms (worst window) | decisions/s |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    for sc in scenarios:
        print(sc.row())
    print("\nTargets under the load: health p99 <= 50 ms, decision p99 <= 20 ms.\n")
    for sc in scenarios:
        for line in (sc.load, sc.flood, sc.spread()):
            if line:
                print(f"* {sc.name}: {line}")


if __name__ == "__main__":
    main()
