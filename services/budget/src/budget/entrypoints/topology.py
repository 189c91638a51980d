"""`budget-topology declare` and `budget-topology definitions`: budget's queues before any publish.

`declare` makes (idempotently) the events exchange, budget's quorum queue with its bindings and
its dead-letter queue, and removes the version-wildcard bindings of earlier releases; the
launcher runs it before it starts the relay. `definitions` prints the same topology as RabbitMQ
definitions JSON: `deploy/rabbitmq/topology.json` is its output, loaded by the broker at boot in
docker compose and Kubernetes.
"""

import argparse
import asyncio
import json
import sys

import aio_pika

from budget.bootstrap import topology_of
from budget.config import Settings


async def declare(settings: Settings) -> None:
    """Declare budget's topology on the broker of `settings`."""
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        await topology_of(settings).declare(connection, channel)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="budget-topology", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("declare", help="declare the exchange, queue, bindings and DLQ now")
    commands.add_parser("definitions", help="print the topology as RabbitMQ definitions JSON")
    args = parser.parse_args(argv)
    settings = Settings()
    topology = topology_of(settings)
    if args.command == "definitions":
        print(json.dumps(topology.definitions(), indent=2))
        return
    try:
        asyncio.run(declare(settings))
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        print(f"budget-topology: cannot declare on the broker: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    print(f"declared {topology.queue} on {topology.events_exchange}")
