from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.ids import TaskId
from todos.service_layer.pagination import InvalidCursorError, decode_cursor, encode_cursor


def test_a_cursor_round_trips() -> None:
    position = (datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), TaskId(uuid4()))
    assert decode_cursor(encode_cursor(position)) == position


@given(st.text(max_size=80))
def test_any_text_either_decodes_or_is_invalid(text: str) -> None:
    try:
        when, _ = decode_cursor(text)
    except InvalidCursorError:
        return
    assert when.tzinfo is not None


@pytest.mark.parametrize("cursor", ["", "x", "bnVsbA", "WzEsMl0", "WyJub3QgYSBkYXRlIiwiMSJd"])
def test_garbage_cursors_are_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
