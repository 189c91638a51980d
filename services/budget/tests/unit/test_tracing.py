"""Tracing glue: off costs nothing; on, applying an event continues the envelope's trace."""

from datetime import UTC, datetime
from uuid import uuid4

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from budget import tracing
from contracts.envelope import ParsedEvent, build_envelope
from contracts.events import TaskCompleted

TRACE, PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def _parsed() -> ParsedEvent:
    event = TaskCompleted(
        task_id=uuid4(), owner_id=uuid4(), title="t", completed_at=datetime.now(UTC)
    )
    envelope = build_envelope(event, traceparent=f"00-{TRACE}-{PARENT}-01")
    return ParsedEvent(envelope=envelope, event=event)


async def _apply_batch(batch: object) -> str:
    return "applied"


def test_off_the_batch_apply_function_is_returned_as_it_is() -> None:
    assert not tracing.enabled()
    assert tracing.traced_apply_batch(_apply_batch) is _apply_batch


async def test_a_batch_continues_its_first_trace_and_links_the_others() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = tracing.traced_apply_batch(_apply_batch, provider.get_tracer("test"))
    other = ParsedEvent(
        envelope=_parsed().envelope.model_copy(
            update={"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
        ),
        event=_parsed().event,
    )

    assert await traced([_parsed()]) == "applied"
    assert await traced([_parsed(), other]) == "applied"

    one, batch = exporter.get_finished_spans()
    assert one.name == "apply todos.task.completed.v1"
    assert batch.name == "apply batch"
    for span in (one, batch):
        assert format(span.context.trace_id, "032x") == TRACE
        assert span.parent is not None
        assert format(span.parent.span_id, "016x") == PARENT
    assert [format(link.context.trace_id, "032x") for link in batch.links] == ["1" * 32]
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 2
