"""What instrumentation costs on the decision path: metrics on (the default) beside metrics off.

    python benchmarks/bench_metrics.py [--seconds 8] [--rounds 3] [--blocks 40]

First in process (the figure least moved by a busy machine): the same decision requests
through two ASGI apps, one instrumented, in alternating blocks of 100, each block timed with
this process's CPU clock; the per-decision cost is the median block of each side. Then over
HTTP:

Two servers over copies of one database (bench_decisions' library: 1,000 offers, 100 rules, one
live decision of 100 candidates with rules), one with `NEXTOFFER_METRICS=off`, each in turn on
the same core, wrk on the other. Every round runs a closed-loop run on each server (throughput),
then on each a run paced at 70 % of the rate the uninstrumented server reached in that round,
measuring the server process's CPU time per decision (utime + stime from /proc; the
event-writer child is left out on both sides) and the latency; the servers take turns, first
one then the other from round to round. The machine is shared, so the figures are ratios
within a round, then their median.

Target (issue 16): instrumentation costs <= 3 % at 70 % load.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import wrk
from benchmarks.bench_capping import libraries
from benchmarks.bench_decisions import ORG, bodies, settle
from benchmarks.harness import Server, asgi_post, headers, machine, raw_headers, seed

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Round:
    closed: wrk.WrkResult
    paced: wrk.WrkResult
    cpu_us: float
    """Server CPU per decision in the paced run, microseconds."""


def _url(server: Server) -> str:
    return f"{server.base}/data/core/ods/decisions"


_HEADERS = {**headers(ORG), "Content-Type": "application/json"}


def closed_loop(server: Server, static: list[bytes], seconds: float) -> wrk.WrkResult:
    settle(server)
    return wrk.run(
        "closed", _url(server), method="POST", bodies=static, headers=_HEADERS, seconds=seconds
    )


def paced(
    server: Server, static: list[bytes], seconds: float, rate: float, p50_ms: float
) -> tuple[wrk.WrkResult, float]:
    """A run at `rate`, and the server's CPU microseconds per decision during it."""
    settle(server)
    before = cpu_seconds(server.proc.pid)
    result = wrk.run(
        f"paced at {rate:,.0f}/s",
        _url(server),
        method="POST",
        bodies=static,
        headers=_HEADERS,
        seconds=seconds,
        connections=32,
        rate=rate,
        latency_ms=p50_ms * 0.7,
    )
    used = cpu_seconds(server.proc.pid) - before
    return result, used / (result.rps * seconds) * 1e6


def in_process(url_on: str, url_off: str, static: list[bytes], blocks: int) -> dict[str, float]:
    """Median CPU microseconds per decision, instrumented and not, in alternating blocks."""
    from nextoffer.api.app import create_app
    from nextoffer.config import Settings

    apps = {
        "on": create_app(Settings(database_url=url_on, open_mode=True)),
        "off": create_app(Settings(database_url=url_off, open_mode=True, metrics=False)),
    }
    hdrs = raw_headers(_HEADERS)
    path = "/data/core/ods/decisions"
    per: dict[str, list[float]] = {"on": [], "off": []}

    async def run() -> None:
        for name in ("on", "off"):  # warm-up: catalogs, compiled rules
            for body in static:
                assert await asgi_post(apps[name], path, body, hdrs) == 200
        for i in range(blocks):
            for name in ("on", "off") if i % 2 else ("off", "on"):
                started = time.process_time()
                for body in static[:100]:
                    await asgi_post(apps[name], path, body, hdrs)
                per[name].append((time.process_time() - started) / 100 * 1e6)

    asyncio.run(run())
    for app in apps.values():
        app.state.nextoffer.close()
    out = {name: statistics.median(values) for name, values in per.items()}
    out.update({f"{name} min": min(values) for name, values in per.items()})
    return out


WARM_UP = 200


def instructions_child(url: str, mode: str, count: int) -> None:
    """Run under valgrind: `WARM_UP` then `count` decisions through one app, metrics `mode`.
    Nothing here depends on the clock (catalog checks, event flushes by count only)."""
    from nextoffer.api.app import create_app
    from nextoffer.config import Settings

    app = create_app(
        Settings(
            database_url=url,
            open_mode=True,
            metrics=mode == "on",
            decision_event_writer="thread",
            decision_event_flush_ms=3_600_000,
            catalog_max_age_ms=3_600_000,
        )
    )
    static = bodies(200, "static")
    hdrs = raw_headers(_HEADERS)

    async def run() -> None:
        for i in range(WARM_UP + count):
            if i == WARM_UP:  # what is left is long-lived: collections scan only the new
                gc.collect()  # objects, so one falling in one run and not the other
                gc.freeze()  # moves the count less
            body = static[i % len(static)]
            assert await asgi_post(app, "/data/core/ods/decisions", body, hdrs) == 200

    asyncio.run(run())


def instructions(pristine: Path, tmp: str, count: int) -> dict[str, float]:
    """Instructions per decision (valgrind's count: the same whatever else the machine runs),
    from two runs per mode that differ only in `count` more decisions."""
    out = {}
    for mode in ("off", "on"):
        totals = []
        for n in (0, count):
            db = Path(tmp) / f"count-{mode}-{n}.db"
            shutil.copy(pristine, db)
            run = subprocess.run(
                [
                    *("valgrind", "--tool=cachegrind", "--cache-sim=no"),
                    "--cachegrind-out-file=/dev/null",
                    *(sys.executable, __file__, "--instructions-child", mode, str(n)),
                    f"sqlite:///{db}",
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
                check=True,
            )
            match = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
            if not match:
                raise RuntimeError(f"no instruction count from valgrind:\n{run.stderr[-2000:]}")
            totals.append(int(match.group(1).replace(",", "")))
        out[mode] = (totals[1] - totals[0]) / count
    return out


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--instructions-child":
        instructions_child(sys.argv[4], sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=40, help="in-process blocks per side")
    parser.add_argument("--in-process-only", action="store_true", help="skip the HTTP runs")
    parser.add_argument(
        "--instructions",
        type=int,
        default=1000,
        help="decisions counted under valgrind (0: skip; needs the Debian package valgrind)",
    )
    args = parser.parse_args()
    wrk.prepare()
    with tempfile.TemporaryDirectory() as tmp:
        url_on, url_off = f"sqlite:///{tmp}/on.db", f"sqlite:///{tmp}/off.db"
        seed(url_on, {ORG: libraries()[0]}, metrics=False)
        shutil.copy(f"{tmp}/on.db", f"{tmp}/off.db")
        static = bodies(200, "static")
        counted = {}
        if args.instructions and shutil.which("valgrind"):
            counted = instructions(Path(f"{tmp}/off.db"), tmp, args.instructions)
        cpu_in_process = in_process(url_on, url_off, static, args.blocks)
        if args.in_process_only:
            report({"on": [], "off": []}, cpu_in_process, counted)
            return
        servers = {
            "on": Server(url_on),
            "off": Server(url_off, {"NEXTOFFER_METRICS": "off"}),
        }
        rounds: dict[str, list[Round]] = {"on": [], "off": []}
        try:
            for server in servers.values():  # warm-up: catalogs, compiled rules
                wrk.run(
                    "warm-up",
                    _url(server),
                    method="POST",
                    bodies=static,
                    headers=_HEADERS,
                    seconds=2,
                )
            for i in range(args.rounds):
                order = ("off", "on") if i % 2 == 0 else ("on", "off")
                closed = {n: closed_loop(servers[n], static, args.seconds) for n in order}
                rate = closed["off"].rps * 0.7  # 70 % of what the uninstrumented server did
                for n in order:
                    result, cpu = paced(servers[n], static, args.seconds, rate, closed[n].p50_ms)
                    rounds[n].append(Round(closed[n], result, cpu))
        finally:
            for server in servers.values():
                server.stop()
    report(rounds, cpu_in_process, counted)


def report(
    rounds: dict[str, list[Round]], cpu_in_process: dict[str, float], counted: dict[str, float]
) -> None:
    print(f"Metrics on vs off, decisions — {machine()}\n")
    if counted:
        on, off = counted["on"], counted["off"]
        print(
            f"in process, instructions per decision (valgrind): off {off:,.0f}, on {on:,.0f}, "
            f"on/off {on / off:.4f} ({on - off:+,.0f}, {100 * (on / off - 1):+.2f} %)"
        )
    on, off = cpu_in_process["on"], cpu_in_process["off"]
    print(
        f"in process, CPU per decision (median block of 100): off {off:.1f} µs, on {on:.1f} µs, "
        f"on/off {on / off:.3f} ({on - off:+.1f} µs, {100 * (on / off - 1):+.1f} %)"
    )
    on, off = cpu_in_process["on min"], cpu_in_process["off min"]
    print(
        f"in process, CPU per decision (fastest block of 100): off {off:.1f} µs, on {on:.1f} µs, "
        f"on/off {on / off:.3f} ({on - off:+.1f} µs, {100 * (on / off - 1):+.1f} %)\n"
    )
    if not rounds["on"]:
        return
    print("over HTTP, one uvicorn worker on one core, wrk on the other:\n")
    print(
        "| round | closed-loop req/s off | on | on/off | paced req/s | CPU µs/decision off | on "
        "| CPU on/off | p99 ms off | on |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    throughput, cpu = [], []
    for i, (off, on) in enumerate(zip(rounds["off"], rounds["on"], strict=True), start=1):
        throughput.append(on.closed.rps / off.closed.rps)
        cpu.append(on.cpu_us / off.cpu_us)
        print(
            f"| {i} | {off.closed.rps:,.0f} | {on.closed.rps:,.0f} | {throughput[-1]:.3f} "
            f"| {off.paced.rps:,.0f} | {off.cpu_us:.0f} | {on.cpu_us:.0f} | {cpu[-1]:.3f} "
            f"| {off.paced.p99_ms:.2f} | {on.paced.p99_ms:.2f} |"
        )
    print(
        f"\nmedian throughput on/off: {statistics.median(throughput):.3f}; median CPU per "
        f"decision on/off at 70 % load: {statistics.median(cpu):.3f} "
        f"(cost {100 * (statistics.median(cpu) - 1):+.1f} %; target <= +3 %)"
    )


if __name__ == "__main__":
    main()
