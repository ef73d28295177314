"""Prometheus metrics: the telemetry port's reports as counters, histograms and gauges.

One `PrometheusMetrics` per process (per app in tests: each has a registry of its own, so two
apps in one test process never share counts). Under `nextoffer serve --workers N` each worker
process writes its values to files in `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's
multiprocess mode, chosen when the module is first imported) and a scrape, served by whichever
worker takes it, merges every worker's files: counters and histograms add up, the buffer depth
is summed over live workers and the catalog age is the largest of them.

Labels are bounded by construction (README "Observability"): route templates, not paths; a
method outside the standard ones is `other`; outcomes, ranking kinds, job states and
dependency names are small fixed sets. No tenant label: a shop's orgs and sandboxes are few,
but a scrape must stay small whatever a client sends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from nextoffer.telemetry import DEPENDENCIES, OUTCOMES, RANKINGS

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

disable_created_metrics()  # no `_created` series beside each counter: half the scrape, unused

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods kept as a label value; any other is counted as `other`."""

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds; finer than the client's default below 5 ms, where decisions are answered."""
BUILD_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""The oldest event of a written batch waited this long: about the flush interval (200 ms)
when all is well, far more while the database is away."""


def fast_inc(child: Any) -> Callable[[float], None]:
    """`child.inc` without the checks prometheus-client repeats on every call (amounts here are
    never negative, and every child is observable): the call its value's own lock guards, when
    the child has one, else the public method. A decision reports a few of these: the checks
    were a third of what metrics cost it."""
    value = getattr(child, "_value", None)
    inc = getattr(value, "inc", None)
    return inc if callable(inc) else child.inc  # type: ignore[no-any-return]


def fast_observe(child: Any) -> Callable[[float], None]:
    """`child.observe` the same way: the sum, then the one bucket the amount falls in (found by
    bisection; the last bound is +Inf), no exemplar."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None:
        return child.observe  # type: ignore[no-any-return]
    bounds = list(bounds)
    incs = [bucket.inc for bucket in buckets]
    add = total.inc

    def observe(amount: float) -> None:
        add(amount)
        incs[bisect_left(bounds, amount)](1)

    return observe


def multiprocess() -> bool:
    """Whether values go to `PROMETHEUS_MULTIPROC_DIR` (set before the first import)."""
    return bool(os.environ.get(MULTIPROC_DIR))


class StoredStates(Collector):
    """A gauge by state read from the database at scrape time (`nextoffer_batch_jobs_in_state`):
    the value is the database's, so it is read once per scrape by whichever worker answers,
    never summed over workers, and it is right at once after a restart. A read that fails
    leaves the gauge out of that scrape and counts a database error."""

    def __init__(
        self,
        name: str,
        documentation: str,
        read: Callable[[], Mapping[str, int]],
        failed: Callable[[], None],
    ) -> None:
        self.name, self.documentation, self.read, self.failed = name, documentation, read, failed
        self._prepared: tuple[Mapping[str, int] | None] | None = None

    def prepare(self) -> None:
        """Read now, before the registry collects (so that a failed read is already in the
        dependency-error counter of the same scrape); the next `collect` uses this reading."""
        self._prepared = (self._read(),)

    def _read(self) -> Mapping[str, int] | None:
        try:
            return self.read()
        except Exception:  # a scrape keeps the other metrics while the database is away
            self.failed()
            return None

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=["state"])]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        prepared, self._prepared = self._prepared, None
        counts = prepared[0] if prepared is not None else self._read()
        if counts is None:
            return []
        family = GaugeMetricFamily(self.name, self.documentation, labels=["state"])
        for state, count in counts.items():
            family.add_metric([state.lower()], count)
        return [family]


class PrometheusMetrics:
    """The metrics of one process, with the label values of every hot report bound once."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "nextoffer_http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "nextoffer_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method, route template "
            "and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        decisions = Counter(
            "nextoffer_decisions_total",
            "Decided scopes, by outcome (offer, fallback, empty) and ranking kind (static: by "
            "priority, formula, model).",
            ["outcome", "ranking"],
            registry=r,
        )
        self._decided = {
            (o, k): fast_inc(decisions.labels(o, k)) for o in OUTCOMES for k in RANKINGS
        }
        self.capping_rejections = Counter(
            "nextoffer_capping_rejections_total",
            "Offers a decision left out because one of their caps was reached.",
            registry=r,
        )
        self.capping_lost_races = Counter(
            "nextoffer_capping_lost_races_total",
            "Reservations the counter store refused because concurrent decisions took the "
            "last room first (the decision is made again without that offer).",
            registry=r,
        )
        self.catalog_build_seconds = Histogram(
            "nextoffer_catalog_build_duration_seconds",
            "Time to compile a sandbox's catalog (its _count is the number of builds).",
            buckets=BUILD_BUCKETS,
            registry=r,
        )
        self.catalog_age_gauge = Gauge(
            "nextoffer_catalog_age_seconds",
            "Age of the catalog the decisions use: seconds since it was compiled (again when "
            "the library changes); reported at most once a second.",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.buffered = Gauge(
            "nextoffer_decision_events_buffered",
            "Decision events waiting in memory to be written to the database, as of the "
            "writer's latest round (one each flush interval, 200 ms by default).",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.written = Counter(
            "nextoffer_decision_events_written_total",
            "Decision events written to the database.",
            registry=r,
        )
        self.event_lag = Histogram(
            "nextoffer_decision_events_write_lag_seconds",
            "How long the oldest event of each written batch waited in the buffer.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.refused = Counter(
            "nextoffer_decision_events_refused_total",
            "Decision events lost: rows the database refused, or dropped from a full buffer.",
            registry=r,
        )
        self.sync_seconds = Histogram(
            "nextoffer_decision_event_spool_sync_duration_seconds",
            "Durable mode: time to write and fsync one group of decisions' events to the "
            "spool (every decision of the group waited for it).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.synced = Counter(
            "nextoffer_decision_event_spool_records_total",
            "Durable mode: decisions whose events were synced to the spool (divided by the "
            "sync histogram's _count: decisions per sync).",
            registry=r,
        )
        self.batch_jobs = Counter(
            "nextoffer_batch_jobs_total",
            "Batch jobs this node moved to a state (queued, processing, completed, error, "
            "requeued).",
            ["state"],
            registry=r,
        )
        self.dependency_errors = Counter(
            "nextoffer_dependency_errors_total",
            "Calls to a dependency that failed, by dependency (database, redis).",
            ["dependency"],
            registry=r,
        )
        for name in DEPENDENCIES:
            self.dependency_errors.labels(name)  # exported at 0 from the start
        self._routes: dict[tuple[str, str, int], tuple[Callable, Callable]] = {}
        self._stored: dict[str, StoredStates] = {}
        """Collectors of values read from the database at scrape time (not per process)."""

    def watch_batch_jobs(self, count_by_state: Callable[[], Mapping[str, int]]) -> None:
        """Serve `nextoffer_batch_jobs_in_state{state}`, read with `count_by_state` each scrape."""
        collector = StoredStates(
            "nextoffer_batch_jobs_in_state",
            "Batch jobs of every tenant in each state (queued, processing, ingesting, "
            "completed, error), read from the database at scrape time.",
            count_by_state,
            lambda: self.dependency_error("database"),
        )
        replaced = self._stored.pop(collector.name, None)
        if replaced is not None:  # telemetry shared by services built again: the latest reads
            self.registry.unregister(replaced)
        self.registry.register(collector)
        self._stored[collector.name] = collector

    # -- reports (the telemetry port's, bound onto an Observer) -----------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        found = self._routes.get(key)
        if found is None:
            if method not in METHODS:
                method = "other"
            found = (
                fast_inc(self.requests.labels(method, route, str(status))),
                fast_observe(self.request_seconds.labels(method, route, str(status))),
            )
            if len(self._routes) < 4096:  # bounded anyway; the dict only saves a lookup
                self._routes[key] = found
        count, observe = found
        count(1)
        observe(seconds)

    def decided(self, outcome: str, ranking: str) -> None:
        self._decided[outcome, ranking](1)

    def capping(self, rejected: int, lost_races: int) -> None:
        if rejected:
            self.capping_rejections.inc(rejected)
        if lost_races:
            self.capping_lost_races.inc(lost_races)

    def catalog_built(self, seconds: float) -> None:
        self.catalog_build_seconds.observe(seconds)

    def catalog_age(self, seconds: float) -> None:
        self.catalog_age_gauge.set(seconds)

    def event_buffer(self, depth: int) -> None:
        self.buffered.set(depth)

    def events_written(self, count: int, lag_seconds: float) -> None:
        self.written.inc(count)
        self.event_lag.observe(lag_seconds)

    def events_refused(self, count: int) -> None:
        self.refused.inc(count)

    def events_synced(self, seconds: float, records: int) -> None:
        self.sync_seconds.observe(seconds)
        self.synced.inc(records)

    def batch_job(self, state: str) -> None:
        self.batch_jobs.labels(state).inc()

    def dependency_error(self, dependency: str) -> None:
        self.dependency_errors.labels(dependency).inc()

    # -- the scrape -------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The text format of every metric: this process's, or all workers' when several."""
        for collector in self._stored.values():
            collector.prepare()
        if multiprocess():
            merged = CollectorRegistry()
            _multiprocess.MultiProcessCollector(merged)
            for collector in self._stored.values():  # read once, by the worker answering
                merged.register(collector)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Forget a worker's live gauges (its counters stay in the totals)."""
    if multiprocess():
        _multiprocess.mark_process_dead(pid)


@contextmanager
def worker_metrics_dir(workers: int) -> Iterator[str | None]:
    """For a server of several worker processes: a fresh `PROMETHEUS_MULTIPROC_DIR` while it
    runs, removed after. Kept as is when the operator set one (then emptying it before a start
    is theirs to do, as prometheus-client asks); nothing for one worker."""
    if workers <= 1 or os.environ.get(MULTIPROC_DIR):
        yield os.environ.get(MULTIPROC_DIR)
        return
    path = tempfile.mkdtemp(prefix="nextoffer-metrics-")
    os.environ[MULTIPROC_DIR] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(path, ignore_errors=True)
