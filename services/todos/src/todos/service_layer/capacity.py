"""A bound on work in flight that refuses at once instead of queueing (load shedding)."""

from collections.abc import Iterator
from contextlib import contextmanager

from todos.service_layer.errors import OverloadedError


class Capacity:
    """At most `limit` holders at a time; one more is refused with `OverloadedError`.

    Queueing past capacity only turns a quick refusal into a slow timeout (and hook calls that
    time out in our own queue), so the caller is told at once to retry later.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the duration of the block, or raise `OverloadedError`."""
        if self.in_use >= self.limit:
            raise OverloadedError(f"{self.in_use} completions in flight")
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
