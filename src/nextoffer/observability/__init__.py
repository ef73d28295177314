"""The telemetry adapters: Prometheus metrics and OpenTelemetry spans behind the port
`nextoffer.telemetry.Telemetry`, built once per process from settings and the environment.

An `Observer` binds the reports of the parts that are on straight onto itself (no dispatch per
call): with metrics off and tracing off it is the port's no-op, method for method.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nextoffer.telemetry import NULL_SPAN, SpanScope, Telemetry

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

    from nextoffer.config import Settings
    from nextoffer.observability.prometheus import PrometheusMetrics

REPORTS = (
    "decided",
    "capping",
    "catalog_built",
    "catalog_age",
    "event_buffer",
    "events_written",
    "events_refused",
    "events_synced",
    "batch_job",
    "dependency_error",
)
"""The port's reports, each implemented by `PrometheusMetrics` under the same name."""


class Observer(Telemetry):
    """Telemetry with Prometheus metrics, OpenTelemetry spans, both or neither."""

    def __init__(
        self,
        prometheus: PrometheusMetrics | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.prometheus = prometheus
        self.tracer_provider = tracer_provider
        self.tracer: Tracer | None = None
        if prometheus is not None:
            self.metrics = True
            for name in REPORTS:
                setattr(self, name, getattr(prometheus, name))
        if tracer_provider is not None:
            from nextoffer.observability.tracing import tracer_of

            self.tracing = True
            self.tracer = tracer_of(tracer_provider)

    def span(self, name: str) -> SpanScope:
        tracer = self.tracer
        if tracer is None:
            return NULL_SPAN
        return tracer.start_as_current_span(name)  # type: ignore[return-value]

    def close(self) -> None:
        """Export the spans still buffered (a server shutting down)."""
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()


def build_telemetry(
    settings: Settings,
    env: Mapping[str, str] | None = None,
    *,
    tracer_provider: Any = None,
) -> Observer:
    """The process's telemetry: metrics unless `NEXTOFFER_METRICS=off`, spans when the `OTEL_*`
    variables ask (or a `tracer_provider` is given: tests pass one with an in-memory exporter)."""
    prometheus = None
    if settings.metrics:
        from nextoffer.observability.prometheus import PrometheusMetrics

        prometheus = PrometheusMetrics()
    if tracer_provider is None:
        from nextoffer.observability.tracing import provider_from_env

        tracer_provider = provider_from_env(os.environ if env is None else env)
    return Observer(prometheus, tracer_provider)


__all__ = ["REPORTS", "Observer", "build_telemetry"]
