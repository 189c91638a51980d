"""OpenTelemetry tracing: off (nothing loaded, nothing patched) unless an OTLP endpoint is set.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`); every other knob is a
standard `OTEL_*` variable read by the SDK (sampler, batch delays, headers, service name).

The spans come from the maintained instrumentations (FastAPI, asyncpg, aio-pika, and the
service's HTTP client if it has one); the few made here are the service's own glue, in the
last part of this module.
"""

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import TraceState

from contracts.envelope import ParsedEvent

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.sampling import Sampler

_enabled = False
_tracer: trace.Tracer | None = None
# Health probes and scrapes would be most of the spans and tell nothing.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"


def wanted(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for tracing (an OTLP endpoint, not switched off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def enabled() -> bool:
    return _enabled


def configure(service_name: str) -> bool:
    """Set up the SDK and the library instrumentations once per process, if wanted."""
    global _enabled, _tracer
    if _enabled or not wanted():
        return _enabled
    # Imported here: a process without tracing never loads the SDK or patches a library.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(
        resource=Resource.create({"service.name": name}), sampler=_no_orphan_queries()
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    AioPikaInstrumentor().instrument()  # publish and receive spans; the trace in AMQP headers
    _instrument_clients()
    _tracer = trace.get_tracer("budget")
    _enabled = True
    return True


def shutdown() -> None:
    """Export what is still buffered (at process exit)."""
    provider = trace.get_tracer_provider()
    if _enabled and hasattr(provider, "shutdown"):
        provider.shutdown()


def instrument_app(app: FastAPI) -> None:
    """Server spans for every route but the probes; continues an incoming `traceparent`."""
    if _enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
        )


def _no_orphan_queries() -> "Sampler":
    """`OTEL_TRACES_SAMPLER` (parent-based, always on by default), except that a query outside
    any request or publish (probes, gauges, the workers' polls) starts no trace."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        _get_from_env_or_default,
    )
    from opentelemetry.trace import Link, SpanKind
    from opentelemetry.util.types import Attributes

    configured = _get_from_env_or_default()

    class NoOrphanQueries(Sampler):
        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None,
        ) -> SamplingResult:
            if attributes and ("db.system" in attributes or "db.system.name" in attributes):
                return SamplingResult(Decision.DROP)
            return configured.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"NoOrphanQueries({configured.get_description()})"

    return ParentBased(root=NoOrphanQueries())


# budget-service's own part.
#
# The spans come from the maintained instrumentations: FastAPI (server; the hook call continues
# todos' trace through its `traceparent` header), asyncpg (queries) and aio-pika (the consumer's
# receive span continues the trace from the AMQP headers the relay set). The one span made here
# is the glue of the consumer (`traced_apply_batch`): applying a batch of events, under the
# receive span, or under the first envelope's CloudEvents `traceparent` when the message carries
# no trace header (a message replayed or published by hand).


def _instrument_clients() -> None:
    """Nothing to instrument: budget calls no HTTP service."""


T = TypeVar("T")
ApplyBatch = Callable[[Sequence[ParsedEvent]], Awaitable[T]]


def traced_apply_batch(apply: ApplyBatch[T], tracer: trace.Tracer | None = None) -> ApplyBatch[T]:
    """`apply` of a batch inside one span: `apply <type>` for a batch of one, `apply batch`
    otherwise, a child of the current span (the consumer runs a batch in the context of its
    first delivery) or of the first envelope's traceparent, linked
    to the other events' traces. `apply` itself when tracing is off."""
    tracer = tracer or _tracer
    if tracer is None:
        return apply
    traced_with = tracer

    async def traced(batch: Sequence[ParsedEvent]) -> T:
        first = batch[0].envelope
        parent = None
        if not trace.get_current_span().get_span_context().is_valid and first.traceparent:
            parent = propagate.extract({"traceparent": first.traceparent})
        links = []
        for parsed in batch[1:]:
            if parsed.envelope.traceparent:
                carrier = {"traceparent": parsed.envelope.traceparent}
                linked = trace.get_current_span(propagate.extract(carrier)).get_span_context()
                if linked.is_valid:
                    links.append(trace.Link(linked))
        with traced_with.start_as_current_span(
            f"apply {first.type}" if len(batch) == 1 else "apply batch",
            context=parent,
            kind=trace.SpanKind.INTERNAL,
            links=links,
            attributes={
                "messaging.batch.message_count": len(batch),
                "messaging.message.id": str(first.id),
                "cloudevents.event_id": str(first.id),
                "cloudevents.event_type": first.type,
            },
        ):
            return await apply(batch)

    return traced
