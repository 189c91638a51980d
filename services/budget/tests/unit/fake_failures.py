"""An in-memory `FailureCounter` for tests of the consumer without a database."""

from collections import Counter
from uuid import UUID


class FakeFailureCounter:
    """Counts failures per event id in a dict."""

    def __init__(self) -> None:
        self.failures: Counter[UUID] = Counter()

    async def record(self, event_id: UUID, event_type: str, error: str) -> int:
        self.failures[event_id] += 1
        return self.failures[event_id]
