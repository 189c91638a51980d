"""Outcomes of use cases that are not the happy path; entrypoints map them to status codes."""


class TaskNotFoundError(Exception):
    """No such task for this owner (another owner's task is 'not found' too)."""


class CompletionVetoedError(Exception):
    """At least one hook vetoed the completion."""

    def __init__(self, vetoed_by: list[str], reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.vetoed_by, self.reasons = vetoed_by, reasons


class HookUnavailableError(Exception):
    """A hook under policy `fail` did not give a usable answer."""

    def __init__(self, hooks: list[str]) -> None:
        super().__init__(", ".join(hooks))
        self.hooks = hooks


class OverloadedError(Exception):
    """Too many completions in flight: shed this one at once rather than queue it."""
