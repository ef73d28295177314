"""OpenTelemetry tracing: off unless the standard `OTEL_*` variables ask for it.

Tracing starts when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or when an
OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
then the exporter is `otlp`); `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keeps it
off. The SDK reads the rest itself: `OTEL_SERVICE_NAME` (default here: `nextoffer`),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_EXPORTER_OTLP_HEADERS`, the
batch processor's `OTEL_BSP_*`. The OTLP exporter (HTTP/protobuf) is the `otel` extra:
`pip install 'nextoffer[otel]'`; asking for it without the package is a configuration error.

The provider is this app's, not the process-global one: nothing else in the process (FastAPI's
own instrumentation included) starts tracing because nextoffer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nextoffer import __version__
from nextoffer.config import ConfigError

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

INSTRUMENTATION = "nextoffer"
EXPORTERS = ("otlp", "console", "none")


def exporter_names(env: Mapping[str, str]) -> list[str]:
    """The trace exporters the environment asks for (empty: tracing is off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not raw:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if name not in EXPORTERS:
            raise ConfigError(
                f"OTEL_TRACES_EXPORTER must list some of {', '.join(EXPORTERS)}, not {raw!r}"
            )
    return [] if "none" in names else names


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "OTEL_TRACES_EXPORTER=otlp (or an OTEL_EXPORTER_OTLP_ENDPOINT) needs the OTLP "
            "exporter: pip install 'nextoffer[otel]' (opentelemetry-exporter-otlp-proto-http)"
        ) from None
    return OTLPSpanExporter()  # type: ignore[no-any-return]


def provider_from_env(env: Mapping[str, str]) -> TracerProvider | None:
    """A tracer provider exporting where the environment says, or None when tracing is off."""
    names = exporter_names(env)
    if not names:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {SERVICE_VERSION: __version__}
    if name := env.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = name
    elif "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes[SERVICE_NAME] = INSTRUMENTATION
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    return provider


def tracer_of(provider: TracerProvider) -> Tracer:
    return provider.get_tracer(INSTRUMENTATION, __version__)
