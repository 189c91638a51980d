"""The committed AsyncAPI document is generated from the committed schemas and covers every type."""

import json

from contracts import asyncapi
from contracts.events import EVENT_TYPES


def test_the_committed_document_is_current() -> None:
    assert asyncapi.DOCUMENT.read_text() == asyncapi.render(asyncapi.document()), (
        "contracts/asyncapi.json is stale: run `make asyncapi`"
    )


def test_every_event_type_has_a_channel_with_amqp_bindings_and_a_send_operation() -> None:
    doc = json.loads(asyncapi.DOCUMENT.read_text())
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(EVENT_TYPES) <= addresses.keys()
    for event_type in EVENT_TYPES:
        binding = addresses[event_type]["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"] == {
            "name": "todos.events",
            "type": "topic",
            "durable": True,
            "autoDelete": False,
            "vhost": "/",
        }
    sends = [op for op in doc["operations"].values() if op["action"] == "send"]
    assert len(sends) == len(EVENT_TYPES)


def test_a_message_payload_is_the_envelope_around_the_committed_data_schema() -> None:
    doc = json.loads(asyncapi.DOCUMENT.read_text())
    completed = doc["components"]["messages"]["TaskCompletedV1"]
    assert completed["contentType"] == "application/cloudevents+json"
    envelope, specific = completed["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    assert specific["properties"]["type"] == {"const": "todos.task.completed.v1"}
    data = doc["components"]["schemas"]["TaskCompletedV1"]
    assert {"task_id", "owner_id", "completed_at"} <= set(data["required"])
    assert "traceparent" in doc["components"]["schemas"]["CloudEvent"]["properties"]
