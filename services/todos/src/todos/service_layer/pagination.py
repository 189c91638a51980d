"""Opaque cursors: the (created_at, id) of the last item of a page, url-safe base64."""

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

from contracts.ids import TaskId
from todos.service_layer.ports import Position


class InvalidCursorError(ValueError):
    """The cursor was not made by us (or was damaged)."""


def encode_cursor(position: Position) -> str:
    """The cursor that continues after `position`."""
    created_at, task_id = position
    raw = json.dumps([created_at.isoformat(), str(task_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names, or `InvalidCursorError`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, task_id = json.loads(raw)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, TaskId(UUID(task_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
