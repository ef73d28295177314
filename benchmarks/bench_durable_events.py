"""The cost of the durable decision-event mode: buffered against durable, side by side.

    python benchmarks/bench_durable_events.py [--seconds 8] [--rounds 2]

Two servers on one SQLite database, one in each mode (`NEXTOFFER_DECISION_EVENTS`), the same
library and requests as bench_decisions (priority ranking, one scope a decision). Each round
runs, for each server in turn, a closed-loop run (16 connections: what a group sync costs in
throughput) and a run paced at 70 % of the buffered server's closed-loop rate (the latency a
client sees at a normal load); each run starts after the server's event writer has caught
up. The rounds alternate the servers so that a noisy neighbour hurts both. The durable
server's spool is on the same disk as the database; at the end its `/metrics` says how many
decisions shared each group sync and how long a sync took.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import wrk
from benchmarks.bench_capping import libraries
from benchmarks.bench_decisions import ORG, bodies, settle
from benchmarks.harness import Server, headers, machine, seed

MODES = ("buffered", "durable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    wrk.prepare()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        seed(url, {ORG: libraries()[0]})
        servers = {
            mode: Server(
                url,
                {
                    "NEXTOFFER_DECISION_EVENTS": mode,
                    "NEXTOFFER_DECISION_EVENT_SPOOL_DIR": f"{tmp}/spool-{mode}",
                },
            )
            for mode in MODES
        }
        try:
            rows = measure(servers, bodies(200, "static"), args)
            syncs = spool_syncs(servers["durable"])
        finally:
            for server in servers.values():
                server.stop()
    print(f"Decision events buffered vs durable, SQLite, one worker on one core — {machine()}\n")
    print("| mode, run | req/s | vs buffered | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for run, baseline in rows:
        print(run.row(baseline))
    count, records, seconds = syncs
    print(
        f"\ndurable server: {records:,.0f} decisions synced in {count:,.0f} group syncs "
        f"({records / max(count, 1):.1f} decisions per sync), "
        f"{seconds / max(count, 1) * 1000:.2f} ms per sync on average"
    )


def spool_syncs(server: Server) -> tuple[float, float, float]:
    """The durable server's syncs, decisions synced and seconds syncing (from `/metrics`)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{server.base}/metrics", timeout=30).text
    found = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("nextoffer_decision_event_spool_")
    }
    return (
        found.get("nextoffer_decision_event_spool_sync_duration_seconds_count", 0.0),
        found.get("nextoffer_decision_event_spool_records_total", 0.0),
        found.get("nextoffer_decision_event_spool_sync_duration_seconds_sum", 0.0),
    )


def measure(
    servers: dict[str, Server], static: list[bytes], args: argparse.Namespace
) -> list[tuple[wrk.WrkResult, wrk.WrkResult]]:
    """Each round: closed loop on each server, then paced runs at 70 % of buffered's rate;
    every row with the buffered run of the same kind and round as its baseline."""
    h = {**headers(ORG), "Content-Type": "application/json"}

    def url(mode: str) -> str:
        return f"{servers[mode].base}/data/core/ods/decisions"

    for mode in MODES:
        wrk.run("warm-up", url(mode), method="POST", bodies=static, headers=h, seconds=2)
    rows: list[tuple[wrk.WrkResult, wrk.WrkResult]] = []

    def each(order: tuple[str, ...], name: str, **load: Any) -> dict[str, wrk.WrkResult]:
        runs = {}
        for mode in order:
            settle(servers[mode])  # the server's event writer has caught up
            runs[mode] = wrk.run(
                f"{mode}, {name}", url(mode), method="POST", bodies=static, headers=h, **load
            )
        rows.extend((runs[mode], runs["buffered"]) for mode in MODES)
        return runs

    for round_ in range(1, args.rounds + 1):
        order = MODES if round_ % 2 else MODES[::-1]
        closed = each(order, f"closed loop, round {round_}", seconds=args.seconds)
        rate = closed["buffered"].rps * 0.7
        each(
            order,
            f"paced at {rate:,.0f}/s, round {round_}",
            seconds=args.seconds,
            connections=64,
            rate=rate,
            latency_ms=closed["buffered"].p50_ms * 0.7,
        )
    return rows


if __name__ == "__main__":
    main()
