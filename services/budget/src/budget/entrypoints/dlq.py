"""`budget-dlq list` and `budget-dlq replay [--id ID ...]`: the dead-letter queue by hand."""

import argparse
import asyncio
import sys

import aio_pika

from budget.adapters.dead_letters import list_dead_letters, replay
from budget.bootstrap import Container, bootstrap
from budget.config import Settings


async def run(settings: Settings, command: str, ids: list[str] | None) -> int:
    """Run one command against the broker; returns how many messages it covered."""
    container = bootstrap(settings, role="cli")
    try:
        return await _run(container, command, ids)
    finally:
        await container.aclose()


async def _run(container: Container, command: str, ids: list[str] | None) -> int:
    # A plain connection, not the container's reconnecting one: a CLI fails fast instead.
    connection = await aio_pika.connect(container.settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        topology = container.topology
        await topology.declare(connection, channel)
        if command == "list":
            letters = await list_dead_letters(channel, topology)
            print(f"{'TYPE':<36} {'ID':<36} {'DELIVERIES':>10}  REASON")
        else:
            letters = await replay(channel, topology, set(ids) if ids else None)
            print(f"replayed {len(letters)} message(s) into {topology.queue}")
        for letter in letters:
            print(f"{letter.type:<36} {letter.id:<36} {letter.deliveries:>10}  {letter.reason}")
        return len(letters)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="budget-dlq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show dead letters: type, id, deliveries, reason")
    replay_cmd = commands.add_parser("replay", help="re-publish dead letters into the main queue")
    replay_cmd.add_argument("--id", action="append", dest="ids", help="message id (repeatable)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(Settings(), args.command, getattr(args, "ids", None)))
    except (OSError, aio_pika.exceptions.AMQPError) as exc:
        print(f"budget-dlq: cannot reach the broker: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
