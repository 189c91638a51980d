"""Opaque cursors: the (created_at, id) of the last item of a page, url-safe base64."""

import base64
import binascii
import json
from datetime import UTC, datetime
from uuid import UUID

from contracts.ids import TaskId
from todos.service_layer.ports import Position

# What encode_cursor makes: unpadded url-safe base64 (documented in the OpenAPI).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


class InvalidCursorError(ValueError):
    """The cursor was not made by us (or was damaged)."""


def encode_cursor(position: Position) -> str:
    """The cursor that continues after `position`."""
    created_at, task_id = position
    raw = json.dumps([created_at.isoformat(), str(task_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names, or `InvalidCursorError`.

    A cursor comes from the client, so what it decodes to is checked like any input: two
    strings, an aware time that exists in UTC (what the database compares), and a UUID.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if not (isinstance(decoded, list) and len(decoded) == 2):
            raise ValueError("not a pair")
        created, task_id = decoded
        if not (isinstance(created, str) and isinstance(task_id, str)):
            raise ValueError("not two strings")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when.astimezone(UTC), TaskId(UUID(task_id))
    except (ValueError, TypeError, OverflowError, binascii.Error, RecursionError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
