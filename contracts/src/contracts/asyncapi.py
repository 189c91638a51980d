"""The AsyncAPI 3.0 document of `todos.events`, generated from the committed event schemas.

    python -m contracts.asyncapi           # write contracts/asyncapi.json
    python -m contracts.asyncapi --check   # exit 1 when the committed file is stale

One channel per event type (the routing key on the `todos.events` topic exchange, with its AMQP
bindings), one message each (the CloudEvents envelope, structured mode, whose `data` is the
event's committed JSON Schema), todos-service's send operations, and budget-service's queue
with the types it receives. `make validate` checks it against the AsyncAPI 3.0 JSON Schema;
`make docs` renders it to HTML.
"""

import argparse
import json
import sys
from typing import Any

from contracts.envelope import CONTENT_TYPE, EXCHANGE
from contracts.events import EVENT_TYPES
from contracts.schemas import SCHEMA_DIR

DOCUMENT = SCHEMA_DIR.parent / "asyncapi.json"
BUDGET_QUEUE = "budget.todos-events"
# What budget's consumer binds and handles (budget/adapters/topology.py derives the same list).
BUDGET_RECEIVES = (
    "todos.task.completed.v1",
    "todos.task.deleted.v1",
    "todos.task.completion-aborted.v1",
)
AMQP = "0.3.0"  # the AMQP bindings version


def _camel(event_type: str) -> str:
    """`todos.task.completion-aborted.v1` -> `TaskCompletionAbortedV1`."""
    words = event_type.removeprefix("todos.").replace("-", ".").split(".")
    return "".join(w[:1].upper() + w[1:] for w in words)


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text())
    return schema


def _message(event_type: str) -> dict[str, Any]:
    data = _schema(f"{event_type}.json")
    return {
        "name": event_type,
        "title": event_type,
        "summary": data.get("description", event_type),
        "contentType": CONTENT_TYPE,
        "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
        "headers": {"$ref": "#/components/schemas/AmqpHeaders"},
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "source": {"const": "todos-service"},
                        "data": {"$ref": f"#/components/schemas/{_camel(event_type)}"},
                    },
                },
            ]
        },
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP}},
    }


def document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document."""
    exchange = {
        "name": EXCHANGE,
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": "/",
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": _schema("cloudevent.json")}
    schemas["AmqpHeaders"] = {
        "type": "object",
        "description": "AMQP headers; properties mirror the envelope (message_id = id, "
        "type = type, correlation_id = correlationid, persistent delivery).",
        "properties": {
            "traceparent": {
                "type": "string",
                "description": "W3C trace context of the relay's publish, when tracing is on",
                "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            }
        },
    }
    for event_type in sorted(EVENT_TYPES):
        key = _camel(event_type)
        schemas[key] = _schema(f"{event_type}.json")
        channels[key] = {
            "address": event_type,
            "title": f"{EXCHANGE} / {event_type}",
            "description": f"Routing key `{event_type}` on the `{EXCHANGE}` topic exchange.",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {
                "amqp": {"is": "routingKey", "exchange": exchange, "bindingVersion": AMQP}
            },
        }
        operations[f"publish{key}"] = {
            "action": "send",
            "title": f"todos-service publishes {event_type}",
            "summary": "From the transactional outbox, by todos-relay, with publisher confirms.",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": AMQP}},
        }
    received = [t for t in BUDGET_RECEIVES if t in EVENT_TYPES]
    channels["budgetQueue"] = {
        "address": BUDGET_QUEUE,
        "title": f"budget-service's queue {BUDGET_QUEUE}",
        "description": "Quorum queue bound to exactly the types budget handles; a poison "
        f"message goes to `{BUDGET_QUEUE}.dlq`.",
        "messages": {_camel(t): {"$ref": f"#/components/messages/{_camel(t)}"} for t in received},
        "bindings": {
            "amqp": {
                "is": "queue",
                "queue": {
                    "name": BUDGET_QUEUE,
                    "durable": True,
                    "exclusive": False,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": AMQP,
            }
        },
    }
    operations["budgetConsumes"] = {
        "action": "receive",
        "title": "budget-service consumes (idempotent; acked after commit)",
        "channel": {"$ref": "#/channels/budgetQueue"},
        "messages": [{"$ref": f"#/channels/budgetQueue/messages/{_camel(t)}"} for t in received],
        "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "todos.events",
            "version": "1.0.0",
            "description": "Integration events of todos-service: CloudEvents 1.0 in structured "
            "JSON mode as the AMQP body, delivered at least once (consumers are idempotent). "
            "Generated from contracts/schemas by `python -m contracts.asyncapi`.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "RabbitMQ of `make run`",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": {_camel(t): _message(t) for t in sorted(EVENT_TYPES)},
            "correlationIds": {
                "correlationid": {
                    "description": "The request id that caused the event",
                    "location": "$message.payload#/correlationid",
                }
            },
        },
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.name} is stale: run `make asyncapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
