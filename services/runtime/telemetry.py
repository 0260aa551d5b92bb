"""OpenTelemetry traces and metrics for every hub process.

Configured by the standard ``OTEL_*`` variables. When no exporter is configured at all
(neither ``OTEL_TRACES_EXPORTER`` nor an OTLP endpoint), spans are still created, so trace
ids reach the logs and the Kafka headers, but nothing is exported: ``make run`` needs no
collector.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

_configured = False


def _disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"


def _wanted(kind: str) -> str:
    explicit = os.environ.get(f"OTEL_{kind}_EXPORTER")
    if explicit:
        return explicit.split(",")[0].strip().lower()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        f"OTEL_EXPORTER_OTLP_{kind}_ENDPOINT"
    ):
        return "otlp"
    return "none"


def _span_exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    return None


def _metric_reader(name: str) -> MetricReader | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    if name == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    return None


def setup_telemetry(service_name: str, extra_resource: dict[str, Any] | None = None) -> None:
    """Install tracer and meter providers once per process plus library instrumentation."""
    global _configured
    if _configured or _disabled():
        return
    _configured = True
    attributes: dict[str, Any] = {"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)}
    attributes.update(extra_resource or {})
    resource = Resource.create(attributes)

    tracer_provider = TracerProvider(resource=resource)
    exporter = _span_exporter(_wanted("TRACES"))
    if exporter is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)

    reader = _metric_reader(_wanted("METRICS"))
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[reader] if reader else [])
    )

    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    AIOKafkaInstrumentor().instrument()


def instrument_engine(engine: Any) -> None:
    """SQLAlchemy spans for one engine (async engines expose ``sync_engine``)."""
    if _disabled():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    sync_engine = getattr(engine, "sync_engine", engine)
    if instrumentor.is_instrumented_by_opentelemetry:
        # A second app in one process (tests, OpenAPI export): instrument just this engine.
        instrumentor._instrument(engine=sync_engine)
    else:
        instrumentor.instrument(engine=sync_engine)


def instrument_app(app: Any) -> None:
    if _disabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.force_flush()


def tracer(name: str = "hub") -> trace.Tracer:
    return trace.get_tracer(name)
