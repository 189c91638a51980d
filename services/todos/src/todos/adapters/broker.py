"""The broker connection, made in the background so start-up order does not matter.

aio-pika's robust connection with `fail_fast=false` keeps retrying the first connect as well
as every reconnect after an outage, so `start()` returns at once and `ready()` waits.
"""

import asyncio
import contextlib

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

RECONNECT_INTERVAL_SECONDS = 1


class BrokerConnection:
    def __init__(self, url: str, *, reconnect_interval: float = RECONNECT_INTERVAL_SECONDS) -> None:
        self._url = URL(url).update_query(
            fail_fast="false", reconnect_interval=str(reconnect_interval)
        )
        self._connecting: asyncio.Task[None] | None = None
        self.connection: AbstractRobustConnection | None = None

    def start(self) -> None:
        if self.connection is None:
            self.connection = aio_pika.RobustConnection(self._url)
            self._connecting = asyncio.create_task(
                self.connection.connect(timeout=5), name="broker-connect"
            )

    async def ready(self) -> AbstractRobustConnection:
        """The connection once it is up (waits as long as the caller lets it)."""
        self.start()
        assert self._connecting is not None
        assert self.connection is not None
        await asyncio.shield(self._connecting)
        return self.connection

    @property
    def is_connected(self) -> bool:
        conn = self.connection
        return conn is not None and not conn.is_closed and conn.connected.is_set()

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        if self.connection is not None:
            await self.connection.close()
        self.connection = self._connecting = None
