"""Batch decisioning end to end: Parquet in, Parquet out, on the local executor.

`python benchmarks/bench_batch.py` (options: `--small 100000 --large 1000000 --dir /tmp`).

Side by side in one run, each in a fresh process (so peak memory is its own):
- the baseline: a no-op pass that reads the profile file in batches and writes every row back
  to Parquet (the I/O floor of any batch job);
- the demo library's hero scope (two offers, eligibility rules, a ranking formula) decided for
  `--small` profiles with 1 and 2 worker processes (profile-decisions/s per core, speed-up);
- the same with `--large` profiles and 2 workers (wall time, and peak memory against `--small`).
Inputs are generated under `--dir` and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCOPE = ("dps:offer-activity:homepage-and-email", "dps:offer-placement:web-hero", 2)
AUDIENCE = "aud-newsletter"


def generate(path: Path, n: int, seed: int = 7) -> None:
    """`n` profiles, all in the audience, in the documented Parquet layout."""
    rnd = random.Random(seed)
    tiers, countries = ["gold", "silver", "bronze"], ["US", "FR", "DE"]
    membership = json.dumps({"ups": {AUDIENCE: {"status": "realized"}}})
    with pq.ParquetWriter(
        path,
        pa.schema([(c, pa.string()) for c in ("identityMap", "attributes", "segmentMembership")]),
    ) as writer:
        for start in range(0, n, 100_000):
            count = min(100_000, n - start)
            ids = [
                f'{{"email":[{{"id":"user{i}@example.com","primary":true}}]}}'
                for i in range(start, start + count)
            ]
            attrs = [
                f'{{"loyalty":{{"tier":"{rnd.choice(tiers)}"}},'
                f'"homeAddress":{{"countryCode":"{rnd.choice(countries)}"}}}}'
                for _ in range(count)
            ]
            writer.write_table(
                pa.table(
                    {
                        "identityMap": ids,
                        "attributes": attrs,
                        "segmentMembership": [membership] * count,
                    }
                )
            )


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run_noop(src: Path, out: Path) -> dict:
    started = time.perf_counter()
    rows = 0
    with pq.ParquetWriter(out, pq.ParquetFile(src).schema_arrow) as writer:
        for batch in pq.ParquetFile(src).iter_batches(batch_size=2048):
            writer.write_batch(batch)
            rows += len(batch)
    own, children = peak_rss_mb()
    return {"seconds": time.perf_counter() - started, "rows": rows, "rss": own, "child": children}


def run_batch_job(src: Path, out: Path, workers: int, counted: bool = False) -> dict:
    """One job; `counted`: per-profile caps read from and counted in a SQL counter store (a
    SQLite file), as API and CLI jobs do, rather than deciding without a store."""
    import tempfile

    from nextoffer.batch.executors.local import LocalExecutor
    from nextoffer.batch.plan import BatchPlan
    from nextoffer.batch.runner import run_batch
    from nextoffer.batch.sources import ParquetSource
    from nextoffer.demo import demo_library
    from nextoffer.engine import ScopeRequest

    docs = {k: {o["id"]: o for o in v} for k, v in demo_library()["objects"].items()}
    plan = BatchPlan(
        job_id=BatchPlan.new_job_id(),
        docs=docs,
        revision=1,
        audience=AUDIENCE,
        scopes=(ScopeRequest(*SCOPE),),
        now=datetime.now(UTC),
        seed=1,
        sandbox_id="bench",
    )
    store = None
    if counted:
        from nextoffer.store.capping_sql import SqlStore
        from nextoffer.store.database import Database

        db = Database(f"sqlite:///{tempfile.mkdtemp()}/counters.db")
        db.upgrade()
        store = SqlStore(db)
    summary = run_batch(plan, ParquetSource(src), LocalExecutor(workers), out, counter_store=store)
    assert summary.profiles == pq.ParquetFile(src).metadata.num_rows
    assert pq.ParquetFile(out).metadata.num_rows == summary.rows
    own, children = peak_rss_mb()
    return {"seconds": summary.seconds, "rows": summary.rows, "rss": own, "child": children}


def child(kind: str, src: Path, out: Path, workers: int) -> dict:
    """Run one measurement in a fresh interpreter and read its JSON line."""
    command = [sys.executable, __file__, "--child", kind, str(src), str(out), str(workers)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        kind, src, out, workers = args.child
        fn = run_noop if kind == "noop" else None
        result = (
            fn(Path(src), Path(out))
            if fn
            else run_batch_job(Path(src), Path(out), int(workers), counted=kind == "counted")
        )
        print(json.dumps(result))
        return
    base = Path(args.dir)
    small, large = base / "bench_batch_small.parquet", base / "bench_batch_large.parquet"
    out = base / "bench_batch_out.parquet"
    try:
        generate(small, args.small)
        generate(large, args.large)
        runs = [
            ("no-op read + write (baseline)", "noop", small, 0),
            ("batch, 1 worker", "batch", small, 1),
            ("batch, 2 workers", "batch", small, 2),
            ("no-op read + write (baseline)", "noop", large, 0),
            ("batch, 2 workers", "batch", large, 2),
            ("batch, 2 workers, counters (SQLite)", "counted", large, 2),
        ]
        results = []
        print(f"cpus: {os.cpu_count()}  python {sys.version.split()[0]}")
        print(f"{'run':34} {'profiles':>10} {'seconds':>8} {'profiles/s':>11} {'peak RSS MB':>22}")
        for label, kind, src, workers in runs:
            r = child(kind, src, out, workers)
            rate = r["rows"] / r["seconds"]
            rss = f"{r['rss']:.0f} (+worker {r['child']:.0f})" if workers else f"{r['rss']:.0f}"
            print(f"{label:34} {r['rows']:>10,} {r['seconds']:>8.1f} {rate:>11,.0f} {rss:>22}")
            results.append((label, workers, r))
        one, two = results[1][2], results[2][2]
        rate_one = one["rows"] / one["seconds"]
        print(f"per core (1 worker): {rate_one:,.0f} profile-decisions/s")
        print(f"speed-up of 2 workers over 1: {one['seconds'] / two['seconds']:.2f}x")
        print(f"1M x 1 scope, 2 workers: {results[4][2]['seconds']:.1f} s")
    finally:
        for path in (small, large, out):
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
