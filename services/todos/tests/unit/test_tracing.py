"""Tracing glue: off costs nothing; on, the relay's span continues the outbox row's trace."""

from datetime import UTC, datetime
from uuid import uuid4

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.envelope import CloudEvent, build_envelope
from contracts.events import TaskCompleted
from todos import tracing

TRACE, PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def _event() -> CloudEvent:
    data = TaskCompleted(
        task_id=uuid4(), owner_id=uuid4(), title="t", completed_at=datetime.now(UTC)
    )
    return build_envelope(data, traceparent=f"00-{TRACE}-{PARENT}-01")


def test_tracing_is_wanted_only_with_an_endpoint_and_not_switched_off() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not tracing.wanted({**on, "OTEL_SDK_DISABLED": "true"})
    assert not tracing.wanted({**on, "OTEL_TRACES_EXPORTER": "none"})


async def test_off_the_publish_function_is_returned_as_it_is() -> None:
    async def publish(envelope: CloudEvent) -> None:
        pass

    assert not tracing.enabled()
    assert tracing.traced_publish(publish) is publish
    assert tracing.current_traceparent() is None


async def test_the_relay_span_continues_the_rows_trace_and_names_itself_in_the_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sent: list[CloudEvent] = []

    async def publish(envelope: CloudEvent) -> None:
        sent.append(envelope)

    await tracing.traced_publish(publish, provider.get_tracer("test"))(_event())

    (span,) = exporter.get_finished_spans()
    assert span.name == "outbox relay todos.task.completed.v1"
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT
    assert format(span.context.trace_id, "032x") == TRACE
    assert sent[0].traceparent == f"00-{TRACE}-{format(span.context.span_id, '016x')}-01"
