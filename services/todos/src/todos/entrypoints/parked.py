"""`todos-parked list` and `todos-parked replay [--id ID ...] [--type TYPE ...]`: parked events.

Events published while no queue was bound for their type wait in `<exchange>.unrouted` (the
relay exports their number as `todos_events_parked_messages`). Once the subscriber's queue
exists, `replay` publishes them again with their original routing key.
"""

import argparse
import asyncio
import sys

import aio_pika

from todos.adapters.parked import list_parked, replay_parked
from todos.bootstrap import parked_channel
from todos.config import Settings


async def run(
    settings: Settings, command: str, ids: list[str] | None = None, types: list[str] | None = None
) -> int:
    """Run one command against the broker; returns how many events it covered."""
    async with parked_channel(settings) as channel:
        exchange = settings.events_exchange
        if command == "list":
            events = await list_parked(channel, exchange)
            print(f"{len(events)} event(s) parked in {exchange}.unrouted")
        else:
            events = await replay_parked(channel, exchange, ids=ids, types=types)
            print(f"replayed {len(events)} event(s) to {exchange}")
        for event in events:
            print(f"{event.routing_key:<36} {event.id:<36} {event.correlation_id}")
        return len(events)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="todos-parked", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show parked events: routing key, id, correlation id")
    replay = commands.add_parser("replay", help="publish parked events to the exchange again")
    replay.add_argument("--id", action="append", dest="ids", help="event id (repeatable)")
    replay.add_argument("--type", action="append", dest="types", help="event type (repeatable)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(
            run(Settings(), args.command, getattr(args, "ids", None), getattr(args, "types", None))
        )
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        print(f"todos-parked: cannot reach the broker or the parking queue: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
