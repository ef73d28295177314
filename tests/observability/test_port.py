"""The telemetry port: a no-op default, adapters bound onto it, and third-party telemetry kept
in the adapters (the core and the services never import it)."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from nextoffer.observability import REPORTS, Observer
from nextoffer.observability.prometheus import PrometheusMetrics
from nextoffer.telemetry import NO_TELEMETRY, NULL_SPAN, Telemetry
from tests.helpers import parse_source

SRC = Path(__file__).resolve().parents[2] / "src" / "nextoffer"
THIRD_PARTY = ("prometheus_client", "opentelemetry")
ALLOWED = ("observability", "api")
"""Where Prometheus and OpenTelemetry may be named: the adapters."""


def _imported(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(parse_source(path)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_only_the_adapters_import_prometheus_or_opentelemetry() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0].removesuffix(".py")
        if package in ALLOWED:
            continue
        for module in _imported(path):
            if module.split(".")[0] in THIRD_PARTY:
                wrong.append(f"{path.relative_to(SRC)} imports {module}")
    assert wrong == []


def test_the_no_op_port_takes_every_report() -> None:
    t = Telemetry()
    assert not t.metrics and not t.tracing
    with t.span("x") as span:
        span.set_attribute("k", 1)
        span.add_event("e", {"a": 1})
    assert span is NULL_SPAN
    for name in REPORTS:
        assert callable(getattr(NO_TELEMETRY, name))
    t.decided("offer", "static")
    t.capping(1, 1)
    t.events_written(1, 0.1)


def test_an_observer_binds_the_reports_of_what_is_on() -> None:
    off = Observer()
    assert not off.metrics and not off.tracing and off.span("x") is NULL_SPAN
    for name in REPORTS:  # the port's no-ops, not a dispatch per call
        assert getattr(type(off), name) is getattr(Telemetry, name)
    metrics = PrometheusMetrics()
    on = Observer(metrics)
    assert on.metrics and not on.tracing
    on.decided("fallback", "formula")
    on.batch_job("queued")
    on.dependency_error("database")
    get = metrics.registry.get_sample_value
    assert get("nextoffer_decisions_total", {"outcome": "fallback", "ranking": "formula"}) == 1
    assert get("nextoffer_batch_jobs_total", {"state": "queued"}) == 1
    assert get("nextoffer_dependency_errors_total", {"dependency": "database"}) == 1
    assert get("nextoffer_dependency_errors_total", {"dependency": "redis"}) == 0


def test_two_apps_in_one_process_count_apart() -> None:
    a, b = PrometheusMetrics(), PrometheusMetrics()
    a.request("GET", "/v1/health", 200, 0.001)
    labels = {"method": "GET", "route": "/v1/health", "status": "200"}
    assert a.registry.get_sample_value("nextoffer_http_requests_total", labels) == 1
    assert b.registry.get_sample_value("nextoffer_http_requests_total", labels) is None


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=50))
def test_the_fast_paths_record_what_the_public_methods_record(amounts: list[float]) -> None:
    """`fast_observe`/`fast_inc` skip prometheus-client's per-call checks, not its semantics:
    the same buckets (`le` inclusive), sum and count as `observe`/`inc`."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from nextoffer.observability.prometheus import LATENCY_BUCKETS, fast_inc, fast_observe

    def pair(register: CollectorRegistry) -> tuple[Histogram, Counter]:
        return (
            Histogram("h_seconds", "h", ["x"], buckets=LATENCY_BUCKETS, registry=register),
            Counter("c", "c", ["x"], registry=register),
        )

    public, fast = CollectorRegistry(), CollectorRegistry()
    (ph, pc), (fh, fc) = pair(public), pair(fast)
    observe, inc = fast_observe(fh.labels("a")), fast_inc(fc.labels("a"))
    for amount in [*amounts, *LATENCY_BUCKETS]:  # every bound itself, too
        ph.labels("a").observe(amount)
        pc.labels("a").inc(1)
        observe(amount)
        inc(1)
    assert generate_latest(fast) == generate_latest(public)
