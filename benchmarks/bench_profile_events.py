"""Keeping an experience event on a profile that already holds 1,000 big ones: the old way
(rewrite the profile's whole JSON list) beside the new one (`ProfileStore.append_events`:
insert a row, delete what retention drops), on the same database in the same run.

    python benchmarks/bench_profile_events.py [--events 1000] [--size 60000] [--appends 40]
        [--database postgresql://postgres@127.0.0.1:5432/bench]

* rewrite (before, issue 15): a table holding each profile's events as one JSON list; an
  append reads the list, puts the event in front, trims it to the window and the maximum and
  writes the whole list back, in one write transaction (`Database.write()`, as the store did).
  It is the old `append_events` minus its identity lookup and plan, so the ratio is an
  understatement of the gain.
* append (after): the real `append_events`, identity lookup and stitching plan included, on a
  profile holding the same 1,000 events (byte budget raised so that it keeps them all), and on
  one under the default byte budget (1 MiB: it keeps the newest that fit).
* read: the decision's read of the profile's events (`find(..., with_events=True)`) beside
  reading the old JSON list, both for 1,000 small (1 KB) events.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from benchmarks.harness import machine
from nextoffer.profiles.events import cutoff, newest_first, within
from nextoffer.store.database import Database
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow

TENANT = Tenant("bench@AdobeOrg", "prod")

rewrite = sa.Table(
    "bench_rewrite_profiles",
    sa.MetaData(),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("events", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
)


def events(n: int, size: int, tag: str) -> list[dict[str, Any]]:
    """`n` events of about `size` bytes each, newest first, the newest a minute old."""
    now = utcnow()
    return [
        {
            "eventType": "web.pageView",
            "timestamp": format_utc(now - timedelta(minutes=1 + i)),
            "web": {"url": f"/{tag}/{i}", "pad": "x" * max(0, size - 120)},
        }
        for i in range(n)
    ]


def timed(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def ms(values: list[float]) -> str:
    """best / p50 / p95 in ms (the best shows the cost on a quiet machine)."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{ordered[0] * 1e3:.2f} / {statistics.median(values) * 1e3:.2f} / {p95 * 1e3:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--size", type=int, default=60_000, help="bytes per big event")
    parser.add_argument("--appends", type=int, default=40)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    opts = parser.parse_args()
    n = opts.events

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(opts.database or f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        rewrite.drop(db.engine, checkfirst=True)
        rewrite.create(db.engine)
        roomy = ProfileStore(db, event_budget_bytes=2 * n * opts.size)
        default = ProfileStore(db)
        oldest = cutoff(utcnow(), roomy.event_window_days)

        def rewrite_append(key: str) -> Callable[[int], None]:
            def append(i: int) -> None:
                event = {"eventType": "click", "timestamp": format_utc(utcnow()), "i": i}
                with db.write() as conn:
                    stored = conn.execute(
                        sa.select(rewrite.c.events).where(rewrite.c.id == key)
                    ).scalar_one()
                    kept = within(newest_first([event, *stored]), oldest, roomy.max_events)
                    conn.execute(sa.update(rewrite).where(rewrite.c.id == key).values(events=kept))

            return append

        def store_append(store: ProfileStore, email: str) -> Callable[[int], None]:
            def append(i: int) -> None:
                store.append_events(TENANT, [("email", email)], [{"eventType": "click", "i": i}])

            return append

        rows: list[tuple[str, str]] = []
        for label, size in (("big", opts.size), ("small", 1000)):
            seed = events(n, size, label)
            with db.write() as conn:
                conn.execute(sa.insert(rewrite), {"id": label, "events": seed})
            roomy.bulk_upsert(TENANT, [{"identityMap": {"email": [{"id": label}]}, "events": seed}])
            default.bulk_upsert(
                TENANT, [{"identityMap": {"email": [{"id": f"{label}-1mib"}]}, "events": seed}]
            )
            held = len(default.get(TENANT, ("email", f"{label}-1mib")).events)
            samples: dict[str, list[float]] = {"rewrite": [], "append": [], "budget": []}
            for _ in range(4):  # interleaved rounds: a busy neighbour hits all three alike
                samples["rewrite"] += timed(rewrite_append(label), opts.appends // 4)
                samples["append"] += timed(store_append(roomy, label), opts.appends // 4)
                samples["budget"] += timed(
                    store_append(default, f"{label}-1mib"), opts.appends // 4
                )
            kept = len(roomy.get(TENANT, ("email", label)).events)
            assert kept == min(roomy.max_events, n + len(samples["append"]))
            before, after = (
                statistics.median(samples["rewrite"]),
                statistics.median(samples["append"]),
            )
            rows += [
                (
                    f"{n} x {size:,} B: rewrite the list (before), best / p50 / p95 ms",
                    ms(samples["rewrite"]),
                ),
                (
                    f"{n} x {size:,} B: append a row (after), best / p50 / p95 ms",
                    ms(samples["append"]),
                ),
                (
                    f"{n} x {size:,} B: speed-up of append over rewrite (p50)",
                    f"{before / after:.0f}x",
                ),
                (
                    f"{n} x {size:,} B under the default 1 MiB budget ({held} kept): append, "
                    "best / p50 / p95 ms",
                    ms(samples["budget"]),
                ),
            ]

        def read_rewrite(key: str) -> Callable[[int], Any]:
            def read(_: int) -> Any:
                with db.read() as conn:
                    stored = conn.execute(
                        sa.select(rewrite.c.events).where(rewrite.c.id == key)
                    ).scalar_one()
                return within(stored, oldest, roomy.max_events)

            return read

        def read_store(store: ProfileStore, email: str) -> Callable[[int], Any]:
            def read(_: int) -> Any:
                found = store.find(TENANT, [("email", email)], with_events=True)
                assert found is not None and found.events
                return found

            return read

        reads: dict[str, list[float]] = {"rewrite": [], "store": [], "big": [], "budget": []}
        for _ in range(5):
            reads["rewrite"] += timed(read_rewrite("small"), 40)
            reads["store"] += timed(read_store(roomy, "small"), 40)
            reads["big"] += timed(read_rewrite("big"), 2)
            reads["budget"] += timed(read_store(default, "big-1mib"), 40)
        rows += [
            (
                f"read {n} x 1 KB events, JSON list (before), best / p50 / p95 ms",
                ms(reads["rewrite"]),
            ),
            (
                f"read {n} x 1 KB events, `find(with_events=True)` (after), best / p50 / p95 ms",
                ms(reads["store"]),
            ),
            (
                f"read {n} x {opts.size:,} B events, JSON list (before), best / p50 / p95 ms",
                ms(reads["big"]),
            ),
            (
                "read the same under the 1 MiB budget (after), best / p50 / p95 ms",
                ms(reads["budget"]),
            ),
        ]
        rewrite.drop(db.engine)
        db.dispose()

    print(f"{machine()}, {db.dialect}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
