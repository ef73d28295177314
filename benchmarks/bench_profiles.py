"""The profile store on SQLite: `find` by identity, bulk load and audience streaming, each
beside a baseline on the same database in the same run.

    python benchmarks/bench_profiles.py [--profiles 100000] [--lookups 20000]

* `find` (the lookup of every decision) against a primary-key lookup of a trivial row, both
  through `Database.read()` (the same connection and transaction handling);
* `bulk_upsert` (validation, identity and audience index rows) against a bare `executemany`
  of the same documents into a two-column table;
* `iter_profiles` over one audience and over the whole sandbox against keyset paging of the
  trivial table's JSON documents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from benchmarks.harness import machine
from nextoffer.store.database import Database
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Tenant
from nextoffer.timeutil import format_utc, utcnow

TENANT = Tenant("bench@AdobeOrg", "prod")
AUDIENCES = 10

trivial = sa.Table(
    "bench_trivial",
    sa.MetaData(),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("doc", sa.JSON, nullable=False),
)


def profile(i: int, rnd: random.Random, now: str) -> dict[str, Any]:
    return {
        "identityMap": {
            "email": [{"id": f"user{i}@example.com"}],
            "ecid": [{"id": f"{i:038d}"}],
        },
        "attributes": {
            "person": {"name": {"firstName": f"First{i}", "lastName": f"Last{i % 977}"}},
            "loyalty": {"tier": rnd.choice(["bronze", "silver", "gold"]), "points": i % 50000},
            "homeAddress": {"countryCode": rnd.choice(["US", "FR", "DE", "CA"]), "city": "X"},
            "preferences": {"newsletter": i % 2 == 0, "channels": ["web", "email"]},
        },
        "segments": {f"aud-{i % AUDIENCES}": "realized", "all": "existing"},
        "events": [{"eventType": "web.pageView", "timestamp": now, "web": {"url": f"/p/{i}"}}],
    }


def timed_calls(fn: Any, args: list[Any]) -> list[float]:
    out = []
    clock = time.perf_counter
    for a in args:
        t = clock()
        fn(a)
        out.append(clock() - t)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    opts = parser.parse_args()
    n = opts.profiles
    rnd = random.Random(7)
    now = format_utc(utcnow())
    docs = [profile(i, rnd, now) for i in range(n)]

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        trivial.create(db.engine)
        store = ProfileStore(db)
        rows: list[tuple[str, Any]] = []

        # -- bulk load vs executemany of the same documents ---------------------------------
        t = time.perf_counter()
        with db.write() as conn:
            for start in range(0, n, 1000):
                conn.execute(
                    sa.insert(trivial),
                    [{"id": f"k{i}", "doc": docs[i]} for i in range(start, min(n, start + 1000))],
                )
        base_load = time.perf_counter() - t
        t = time.perf_counter()
        result = store.bulk_upsert(TENANT, docs)
        bulk = time.perf_counter() - t
        assert result.created == n
        rows.append(("bulk load, profiles/s", f"{n / bulk:,.0f}"))
        rows.append(("baseline executemany of the same JSON, rows/s", f"{n / base_load:,.0f}"))
        rows.append(("bulk load / baseline time", f"{bulk / base_load:.1f}x"))
        t = time.perf_counter()
        store.bulk_upsert(TENANT, docs[: n // 10])
        rows.append(
            ("bulk re-load (replace), profiles/s", f"{(n // 10) / (time.perf_counter() - t):,.0f}")
        )

        # -- find by identity vs primary-key lookup, interleaved in rounds -------------------
        picks = [rnd.randrange(n) for _ in range(opts.lookups)]
        by_email = [[("email", f"user{i}@example.com")] for i in picks]
        by_second = [[("email", "unknown@example.com"), ("ecid", f"{i:038d}")] for i in picks]
        keys = [f"k{i}" for i in picks]
        stmt = sa.select(trivial.c.id, trivial.c.doc).where(trivial.c.id == sa.bindparam("k"))

        def pk_lookup(key: str) -> Any:
            with db.read() as conn:
                return conn.execute(stmt, {"k": key}).first()

        def find(identities: list[tuple[str, str]]) -> Any:
            found = store.find(TENANT, identities)
            assert found is not None
            return found

        def find_events(identities: list[tuple[str, str]]) -> Any:
            return store.find(TENANT, identities, with_events=True)

        samples: dict[str, list[float]] = {"pk": [], "find": [], "second": [], "events": []}
        rounds = 10
        step = len(picks) // rounds
        for r in range(rounds):
            part = slice(r * step, (r + 1) * step)
            samples["pk"] += timed_calls(pk_lookup, keys[part])
            samples["find"] += timed_calls(find, by_email[part])
            samples["second"] += timed_calls(find, by_second[part])
            samples["events"] += timed_calls(find_events, by_email[part])
        base = statistics.median(samples["pk"])
        for label, key in (
            ("baseline: primary-key lookup of a trivial row", "pk"),
            ("`find` by one identity", "find"),
            ("`find` by two identities, the second known", "second"),
            ("`find` with events", "events"),
        ):
            values = samples[key]
            p50 = statistics.median(values)
            rows.append(
                (
                    f"{label}: p50 / p99 µs (x baseline p50)",
                    f"{p50 * 1e6:.0f} / {pct(values, 0.99) * 1e6:.0f} ({p50 / base:.2f}x)",
                )
            )

        # -- streaming profiles vs paging the trivial table ---------------------------------
        def stream(**kwargs: Any) -> tuple[int, float]:
            t = time.perf_counter()
            count = sum(
                len(b) for b in store.iter_profiles(TENANT, batch_size=opts.batch, **kwargs)
            )
            return count, time.perf_counter() - t

        def page_trivial() -> tuple[int, float]:
            t = time.perf_counter()
            after, count = "", 0
            page = (
                sa.select(trivial.c.id, trivial.c.doc)
                .where(trivial.c.id > sa.bindparam("a"))
                .order_by(trivial.c.id)
                .limit(opts.batch)
            )
            while True:
                with db.read() as conn:
                    got = conn.execute(page, {"a": after}).all()
                count += len(got)
                if len(got) < opts.batch:
                    return count, time.perf_counter() - t
                after = got[-1].id

        count, base_t = page_trivial()
        rows.append(
            ("baseline: keyset paging of the trivial table, rows/s", f"{count / base_t:,.0f}")
        )
        count, t_all = stream()
        assert count == n
        rows.append(
            (
                "`iter_profiles` whole sandbox, profiles/s",
                f"{count / t_all:,.0f} ({t_all / base_t:.1f}x baseline time)",
            )
        )
        count, t_aud = stream(audience="aud-3")
        assert count == n // AUDIENCES
        rows.append(
            (
                f"`iter_profiles` one audience ({count:,} of {n:,}), profiles/s",
                f"{count / t_aud:,.0f}",
            )
        )
        count, t_ev = stream(with_events=True)
        rows.append(
            ("`iter_profiles` whole sandbox with events, profiles/s", f"{count / t_ev:,.0f}")
        )
        size = Path(f"{tmp}/bench.db").stat().st_size
        db.dispose()

    print(f"Profiles: {n:,} profiles on SQLite; {machine()}")
    print(f"database file {size / 1e6:.0f} MB (profiles and the trivial copy)\n")
    print("| measure | value |\n|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value} |")


if __name__ == "__main__":
    main()
