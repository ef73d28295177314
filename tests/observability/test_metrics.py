"""`GET /metrics` through the real app: what each report counts, labels that stay bounded,
the guard, and metrics off. Values are read back from the served text format."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.capping.memory_store import MemoryStore
from nextoffer.composition import Services
from nextoffer.decisioning.capping_gate import CappingGate
from nextoffer.engine import build_catalog
from nextoffer.library.portable import import_library
from nextoffer.observability import Observer
from nextoffer.observability.prometheus import PrometheusMetrics
from nextoffer.store.batch_jobs import JobStore
from nextoffer.store.database import Database
from nextoffer.store.decision_events import DecisionEventLog
from nextoffer.tenants import Actor, Tenant
from tests.batch.test_api import DWM, HERO, BatchApi, _tenant_with_profiles, workload
from tests.capping.library import CAPPED, OTHER, decision_body, documents, portable, rule
from tests.capping.test_gate import choose
from tests.conftest import build_services, new_org
from tests.decisioning.conftest import GOLD_US, post, request_body, scope
from tests.helpers import Api, assert_problem

STATES = ("queued", "processing", "ingesting", "completed", "error")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return parse(r.text)


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def registry_value(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# -- HTTP requests -----------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_never_by_path(api: Api) -> None:
    before = scrape(api.client)
    missing = "dps:personalized-offer:0123456789abcdef"
    assert api.get(f"/offers/{missing}?offer-type=personalized").status_code == 404
    assert api.client.request("BREW", "/v1/health").status_code in (404, 405)
    assert api.client.get("/no/such/path/for-anyone").status_code == 404
    after = scrape(api.client)
    scraped = api.client.get("/metrics").text
    assert missing not in scraped and "for-anyone" not in scraped and "BREW" not in scraped

    def delta(**labels: str) -> float:
        name = "nextoffer_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="GET", route="/data/core/dps/{collection}/{object_id}", status="404") == 1
    assert delta(method="other", route="/v1/health", status="405") == 1
    assert delta(method="GET", route="unmatched", status="404") == 1
    count = "nextoffer_http_request_duration_seconds_count"
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, count, **labels) - value(before, count, **labels) == 1


def test_one_handler_on_two_paths_is_labelled_by_the_path_it_answered(demo: Api) -> None:
    body = request_body(scope("homepage-and-email", "web-hero"), attributes=GOLD_US)
    before = scrape(demo.client)
    assert post(demo, body).status_code == 200
    r = demo.client.post("/data/core/ode/c-1/decisions", json=body, headers=demo.headers)
    assert r.status_code == 200
    after = scrape(demo.client)
    name = "nextoffer_http_requests_total"
    for route in ("/data/core/ods/decisions", "/data/core/ode/{container_id}/decisions"):
        labels = {"method": "POST", "route": route, "status": "200"}
        assert value(after, name, **labels) - value(before, name, **labels) == 1


# -- decisions -----------------------------------------------------------------------------------


def test_decisions_are_counted_by_outcome_and_ranking(demo: Api, services: Services) -> None:
    metrics = services.telemetry.prometheus
    assert metrics is not None
    name = "nextoffer_decisions_total"

    def counts() -> dict[tuple[str, str], float]:
        return {
            (o, k): registry_value(metrics, name, outcome=o, ranking=k)
            for o in ("offer", "fallback", "empty")
            for k in ("static", "formula", "model")
        }

    before = counts()
    hero = scope("homepage-and-email", "web-hero", 2)
    assert post(demo, request_body(hero, attributes=GOLD_US)).status_code == 200
    assert post(demo, request_body(hero, attributes={})).status_code == 200
    after = counts()
    moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    assert moved  # each scope is counted once, under one outcome and one ranking
    assert sum(moved.values()) == 2
    assert all(o in ("offer", "fallback", "empty") for o, _ in moved)


def test_capped_decisions_count_rejections_and_lost_races() -> None:
    """Node B does not know node A spent the cap: its reservation is refused (a lost race),
    and the decision made again leaves the capped offer out (a rejection)."""
    store = MemoryStore()
    metrics = PrometheusMetrics()
    observer = Observer(metrics)
    catalog = build_catalog(documents([rule(1)]))
    node_a, node_b = CappingGate(store), CappingGate(store, telemetry=observer)
    assert choose(node_a, catalog) == CAPPED
    assert choose(node_b, catalog) == OTHER
    assert registry_value(metrics, "nextoffer_capping_lost_races_total") == 1
    assert registry_value(metrics, "nextoffer_capping_rejections_total") == 1
    assert choose(node_b, catalog) == OTHER  # known exhausted now: no race, one rejection
    assert registry_value(metrics, "nextoffer_capping_lost_races_total") == 1
    assert registry_value(metrics, "nextoffer_capping_rejections_total") == 2


def test_catalog_builds_and_age(demo: Api, services: Services) -> None:
    metrics = services.telemetry.prometheus
    assert metrics is not None
    builds = registry_value(metrics, "nextoffer_catalog_build_duration_seconds_count")
    assert post(demo, request_body(scope("app-home", "app-card"))).status_code == 200
    assert registry_value(metrics, "nextoffer_catalog_build_duration_seconds_count") == builds + 1
    assert post(demo, request_body(scope("app-home", "app-card"))).status_code == 200
    assert registry_value(metrics, "nextoffer_catalog_build_duration_seconds_count") == builds + 1
    assert registry_value(metrics, "nextoffer_catalog_age_seconds") >= 0


# -- decision events -----------------------------------------------------------------------------


def _events(n: int) -> list[Any]:
    from datetime import UTC, datetime

    from nextoffer.records.decision_events import DecisionEvent

    now = datetime.now(UTC)
    return [
        DecisionEvent(f"p-{i}", now, None, None, "dps:offer-activity:a", "p", [], None, "r")
        for i in range(n)
    ]


def test_written_events_and_their_lag(database: Database) -> None:
    metrics = PrometheusMetrics()
    log = DecisionEventLog(
        database, writer="thread", flush_interval=3600, telemetry=Observer(metrics)
    )
    tenant = Tenant(new_org(), "prod")
    try:
        log.record(tenant, _events(3))
        assert log.flush() == 3
        assert registry_value(metrics, "nextoffer_decision_events_buffered") == 0
        assert registry_value(metrics, "nextoffer_decision_events_written_total") == 3
        assert registry_value(metrics, "nextoffer_decision_events_write_lag_seconds_count") == 1
    finally:
        log.close()


def test_events_waiting_for_a_database_that_does_not_answer(tmp_path: Path) -> None:
    """The buffer depth grows while writes fail, and each failed round is a dependency
    error (a PostgreSQL URL on a port just closed: nothing answers)."""
    metrics = PrometheusMetrics()
    away = Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing")
    log = DecisionEventLog(away, writer="thread", flush_interval=0.01, telemetry=Observer(metrics))
    try:
        log.record(Tenant(new_org(), "prod"), _events(3))
        with pytest.raises(OperationalError):
            log.flush()
        assert registry_value(metrics, "nextoffer_decision_events_buffered") == 3
        log.record(Tenant(new_org(), "prod"), _events(2))
        errors = "nextoffer_dependency_errors_total"
        buffered = "nextoffer_decision_events_buffered"
        for _ in range(3000):  # the writer thread's own rounds fail too, all five waiting
            if (
                registry_value(metrics, errors, dependency="database") >= 1
                and registry_value(metrics, buffered) == 5
            ):
                break
            threading.Event().wait(0.01)
        assert registry_value(metrics, errors, dependency="database") >= 1
        assert registry_value(metrics, "nextoffer_decision_events_buffered") == 5
    finally:
        with pytest.raises(OperationalError):  # the last flush, on close, fails as well
            log.close()
        away.dispose()


def test_events_dropped_from_a_full_buffer_are_counted_as_lost(database: Database) -> None:
    metrics = PrometheusMetrics()
    log = DecisionEventLog(
        database, writer="thread", flush_interval=3600, max_pending=2, telemetry=Observer(metrics)
    )
    try:
        log.record(Tenant(new_org(), "prod"), _events(5))
        assert registry_value(metrics, "nextoffer_decision_events_refused_total") == 3
        assert log.flush() == 2
        assert registry_value(metrics, "nextoffer_decision_events_written_total") == 2
    finally:
        log.close()


# -- batch jobs and dependencies ----------------------------------------------------------------


def test_batch_jobs_are_counted_by_state(make_batch: Callable[..., Any]) -> None:
    batch = make_batch(10)
    r = batch.post(workload(HERO))
    assert r.status_code == 200, r.text
    assert batch.wait(r.json()["@id"])["ode:status"] == "COMPLETED"
    samples = scrape(batch.api.client)
    for state in ("queued", "processing", "completed"):
        assert value(samples, "nextoffer_batch_jobs_total", state=state) == 1
    assert value(samples, "nextoffer_batch_jobs_total", state="error") == 0


def test_batch_jobs_in_each_state_are_read_from_the_database_at_each_scrape(
    tmp_path: Path,
) -> None:
    """Two jobs queued on a node that runs none, then run by another node: both nodes' scrapes
    show the database's counts (a gauge per process would show each node's own)."""
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    db.upgrade()
    settings = {"batch_output_dir": str(tmp_path / "out"), "batch_workers": 0}
    idle = build_services(db, batch_run_jobs=False, **settings)
    name = "nextoffer_batch_jobs_in_state"
    with TestClient(create_app(services_=idle)) as client:
        api = Api(client, new_org(), "prod")
        _tenant_with_profiles(idle, api, 10)
        assert {s: value(scrape(client), name, state=s) for s in STATES} == dict.fromkeys(STATES, 0)
        jobs = []
        for _ in range(2):
            r = client.post(DWM, json=workload(HERO), headers=api.headers)
            assert r.status_code == 200, r.text
            jobs.append(r.json()["@id"])
        samples = scrape(client)
        assert {s: value(samples, name, state=s) for s in STATES} == {
            **dict.fromkeys(STATES, 0),
            "queued": 2,
        }
        runner = build_services(db, **settings)
        with TestClient(create_app(services_=runner)) as other:
            for job in jobs:
                assert BatchApi(Api(other, api.org, "prod"), runner).wait(job)["ode:status"] == (
                    "COMPLETED"
                )
            for scraped in (scrape(client), scrape(other)):
                assert {s: value(scraped, name, state=s) for s in STATES} == {
                    **dict.fromkeys(STATES, 0),
                    "completed": 2,
                }
    db.dispose()


def test_a_scrape_without_the_database_leaves_the_job_gauge_out_and_counts_the_error(
    tmp_path: Path,
) -> None:
    away = Database(f"sqlite:///{tmp_path / 'gone' / 'jobs.db'}")  # its folder does not exist
    metrics = PrometheusMetrics()
    metrics.watch_batch_jobs(JobStore(away).count_by_state)
    samples = parse(metrics.exposition()[0].decode())
    assert not any(n == "nextoffer_batch_jobs_in_state" for n, _ in samples)
    assert value(samples, "nextoffer_dependency_errors_total", dependency="database") == 1
    away.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failing_redis_is_counted_as_a_dependency_error(database: Database) -> None:
    """A Redis capping store nobody answers on: the decision fails and the error is counted
    under `redis` (a port just closed, never the shared Redis)."""
    services = build_services(
        database, capping_store="redis", redis_url=f"redis://127.0.0.1:{_closed_port()}/0"
    )
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        api = Api(client, new_org(), "prod")
        tenant = Tenant(api.org, api.sandbox)
        import_library(services.library, tenant, Actor("t", "t"), portable([rule(5)]))
        before = value(scrape(client), "nextoffer_dependency_errors_total", dependency="redis")
        r = client.post("/data/core/ods/decisions", json=decision_body(), headers=api.headers)
        assert r.status_code >= 500
        after = scrape(client)
    assert value(after, "nextoffer_dependency_errors_total", dependency="redis") == before + 1
    assert value(after, "nextoffer_dependency_errors_total", dependency="database") == 0


# -- the guard, and metrics off ------------------------------------------------------------------


def test_only_loopback_clients_are_answered_without_a_token(services: Services) -> None:
    app = create_app(services_=services)
    remote = TestClient(app, client=("203.0.113.7", 40000), raise_server_exceptions=False)
    r = remote.get("/metrics")
    assert_problem(r, 403, "metrics-forbidden")
    assert "NEXTOFFER_METRICS_TOKEN" in r.json()["detail"]
    local = TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False)
    assert local.get("/metrics").status_code == 200
    assert local.get("/v1/metrics").status_code == 200
    v6 = TestClient(app, client=("::1", 40000), raise_server_exceptions=False)
    assert v6.get("/metrics").status_code == 200


def test_a_metrics_token_is_required_from_everyone_when_set(make_api) -> None:
    api = make_api(metrics_token="scrape-me")
    r = api.client.get("/metrics")
    assert_problem(r, 401, "metrics-unauthenticated")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(
        api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
        401,
        "metrics-unauthenticated",
    )
    assert_problem(  # a tenant's credential is not the scraper's
        api.client.get("/metrics", headers={"Authorization": "Bearer acme-token"}),
        401,
        "metrics-unauthenticated",
    )
    ok = api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200 and "nextoffer_http_requests_total" in ok.text


def test_metrics_off_serves_no_metrics_and_records_nothing(make_api) -> None:
    api = make_api(metrics=False)
    assert api.client.get("/v1/health").status_code == 200
    r = api.client.get("/metrics")
    assert_problem(r, 404, "metrics-off")
    services = api.client.app.state.nextoffer  # type: ignore[attr-defined]
    assert services.telemetry.prometheus is None and not services.telemetry.metrics


def test_the_scrape_names_follow_prometheus_conventions(api: Api) -> None:
    text = api.client.get("/metrics").text
    names = {
        f.name for f in text_string_to_metric_families(text) if f.name.startswith("nextoffer_")
    }
    assert {
        "nextoffer_http_requests",
        "nextoffer_http_request_duration_seconds",
        "nextoffer_decisions",
        "nextoffer_capping_rejections",
        "nextoffer_capping_lost_races",
        "nextoffer_catalog_build_duration_seconds",
        "nextoffer_catalog_age_seconds",
        "nextoffer_decision_events_buffered",
        "nextoffer_decision_events_written",
        "nextoffer_decision_events_write_lag_seconds",
        "nextoffer_decision_events_refused",
        "nextoffer_batch_jobs",
        "nextoffer_batch_jobs_in_state",
        "nextoffer_dependency_errors",
    } <= names
    assert "_created" not in text  # no creation-time series beside every counter
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert set(sample.labels) <= {"method", "route", "status", "outcome", "ranking"} | {
                "state",
                "dependency",
                "le",
            }


@pytest.mark.parametrize("method", ["GET", "POST", "other"])
def test_request_labels_keep_standard_methods_only(method: str) -> None:
    metrics = PrometheusMetrics()
    metrics.request(method if method != "other" else "PROPFIND", "/v1/health", 200, 0.001)
    labels = {"method": method, "route": "/v1/health", "status": "200"}
    assert registry_value(metrics, "nextoffer_http_requests_total", **labels) == 1


def test_a_dependency_unavailable_answer_is_counted_under_the_dependency_it_names() -> None:
    """The 503 the HTTP layer gives for an outage (`dependency-unavailable`, naming it)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from nextoffer.api.problems import problem_response
    from nextoffer.api.request_telemetry import RequestTelemetry

    def outage(dependency: str):  # type: ignore[no-untyped-def]
        async def endpoint(request):  # type: ignore[no-untyped-def]
            return problem_response(
                503,
                "dependency-unavailable",
                "Unavailable",
                "down",
                None,
                {"dependency": dependency},
            )

        return endpoint

    metrics = PrometheusMetrics()
    inner = Starlette(routes=[Route("/db", outage("database")), Route("/odd", outage("the-moon"))])
    client = TestClient(RequestTelemetry(inner, Observer(metrics)))
    assert client.get("/db").status_code == 503
    assert client.get("/odd").status_code == 503  # not a dependency we know: no new label
    errors = "nextoffer_dependency_errors_total"
    assert registry_value(metrics, errors, dependency="database") == 1
    assert registry_value(metrics, errors, dependency="redis") == 0
    assert metrics.registry.get_sample_value(errors, {"dependency": "the-moon"}) is None
    labels = {"method": "GET", "route": "/db", "status": "503"}
    assert registry_value(metrics, "nextoffer_http_requests_total", **labels) == 1
