"""OpenTelemetry tracing: off by default, on by the `OTEL_*` variables; the spans of a decision
through the real app, recorded by the SDK's in-memory exporter, and a real OTLP/HTTP export."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from nextoffer.api.app import create_app
from nextoffer.composition import Services
from nextoffer.config import ConfigError
from nextoffer.library.portable import import_library
from nextoffer.observability import Observer
from nextoffer.observability.tracing import exporter_names, provider_from_env
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.capping.library import CAPPED, DECISION, P1, decision_body, portable, rule
from tests.conftest import build_services, new_org
from tests.helpers import Api

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, []),
        ({"OTEL_SERVICE_NAME": "shop"}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_off_unless_the_otel_variables_ask(env: dict, names: list[str]) -> None:
    assert exporter_names(env) == names
    assert (provider_from_env(env) is None) == (not names)


def test_an_unknown_exporter_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"OTEL_TRACES_EXPORTER.*zipkin"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_otlp_without_its_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None
    )  # as if the `otel` extra were not installed
    with pytest.raises(ConfigError, match=r"nextoffer\[otel\]"):
        provider_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "nextoffer"),
        ({"OTEL_SERVICE_NAME": "shop-offers"}, "shop-offers"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"}, "from-attributes"),
    ],
)
def test_the_service_name_defaults_to_nextoffer(
    env: dict, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)  # the SDK reads the resource variables itself
    provider = provider_from_env({"OTEL_TRACES_EXPORTER": "console", **env})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == name


def traced_services(database: Database, observer: Observer) -> Services:
    """The test settings (`build_services`), with this telemetry."""
    settings = build_services(database).settings
    return Services.build(settings, db=database, telemetry=observer)


@pytest.fixture
def traced(database: Database) -> Iterator[tuple[Api, InMemorySpanExporter]]:
    """An app whose spans go to memory, a tenant with a capped offer (limit 5)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    services = traced_services(database, Observer(None, provider))
    with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
        api = Api(client, new_org(), "prod")
        tenant = Tenant(api.org, api.sandbox)
        import_library(services.library, tenant, Actor("t", "t"), portable([rule(5)]))
        yield api, exporter


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


def test_a_decision_is_a_server_span_with_its_steps_as_children(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    exporter.clear()
    r = api.client.post(
        "/data/core/ods/decisions",
        json=decision_body(),
        headers={
            **api.headers,
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
            "x-request-id": "req-42",
        },
    )
    assert r.status_code == 200, r.text
    spans = _by_name(exporter.get_finished_spans())
    server = spans["POST /data/core/ods/decisions"]
    assert server.kind is SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace goes on
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    assert server.attributes["http.route"] == "/data/core/ods/decisions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["nextoffer.request_id"] == "req-42"
    assert r.headers["x-request-id"] == "req-42"
    steps = (
        "nextoffer.profile.lookup",
        "nextoffer.decide",
        "nextoffer.decision_events.record",
        "nextoffer.catalog.build",
    )
    for name in steps:
        assert spans[name].context.trace_id == server.context.trace_id, name
        assert spans[name].parent.span_id == server.context.span_id, name  # type: ignore[union-attr]
    reserve = spans["nextoffer.capping.reserve"]
    assert reserve.parent.span_id == spans["nextoffer.decide"].context.span_id  # type: ignore[union-attr]
    assert reserve.attributes["nextoffer.capping.refused"] is False
    assert reserve.attributes["nextoffer.capping.counters"] == 1  # the one capped offer's rule


def test_decision_spans_follow_the_feature_flag_conventions(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    exporter.clear()
    r = api.client.post("/data/core/ods/decisions", json=decision_body(), headers=api.headers)
    assert r.status_code == 200, r.text
    decide = _by_name(exporter.get_finished_spans())["nextoffer.decide"]
    [event] = [e for e in decide.events if e.name == "feature_flag.evaluation"]
    for attributes in (event.attributes, decide.attributes):
        assert attributes["feature_flag.key"] == P1
        assert attributes["feature_flag.result.variant"] == CAPPED
        assert attributes["feature_flag.result.reason"] == "targeting_match"
        assert attributes["feature_flag.set.id"] == DECISION
        assert attributes["feature_flag.provider.name"] == "nextoffer"
        assert attributes["nextoffer.outcome"] == "offer"
        assert attributes["nextoffer.ranking"] == "static"


def test_a_failed_request_marks_its_span_as_an_error(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    exporter.clear()
    r = api.client.post("/data/core/ods/decisions", content=b"{", headers=api.headers)
    assert r.status_code == 400
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.attributes["http.response.status_code"] == 400
    assert server.attributes["nextoffer.problem"] == r.json()["code"]
    assert server.status.is_ok  # a client's mistake is no server error


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_are_exported_over_otlp_http_to_the_endpoint_configured(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real OTLP/HTTP exporter posting protobuf to a collector on a local port."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)  # the exporter reads it
    monkeypatch.setenv("OTEL_SERVICE_NAME", "offers-under-test")
    _Collector.received.clear()
    try:
        provider = provider_from_env(dict(os.environ))
        assert provider is not None
        services = traced_services(database, Observer(None, provider))
        with TestClient(create_app(services_=services), raise_server_exceptions=False) as client:
            assert client.get("/v1/health").status_code == 200
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    paths = {path for path, _ in _Collector.received}
    assert paths == {"/v1/traces"}
    names, services_seen = set(), set()
    for _, body in _Collector.received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for attr in resource_spans.resource.attributes:
                if attr.key == "service.name":
                    services_seen.add(attr.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                names.update(s.name for s in scope_spans.spans)
    assert "GET /v1/health" in names
    assert services_seen == {"offers-under-test"}
