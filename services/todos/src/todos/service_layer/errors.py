"""Use-case failures: plain exceptions; the API maps them to problem documents at the edge
(`entrypoints/errors.py`).

Every class ends in `Error` and carries `code`, the stable name the API puts in its problem
document; the HTTP status is the edge's choice, not the use case's.
"""


class UseCaseError(Exception):
    """A refused use case; `code` is the stable name the API puts in its problem document."""

    code: str = "bad_request"


class TaskNotFoundError(UseCaseError):
    """No such task for this owner (another owner's task is 'not found' too)."""

    code = "not_found"


class CompletionVetoedError(UseCaseError):
    """At least one hook vetoed the completion."""

    code = "vetoed"

    def __init__(self, vetoed_by: list[str], reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.vetoed_by, self.reasons = vetoed_by, reasons


class HookUnavailableError(UseCaseError):
    """A hook under policy `fail` did not give a usable answer."""

    code = "hook_unavailable"

    def __init__(self, hooks: list[str]) -> None:
        super().__init__(", ".join(hooks))
        self.hooks = hooks


class OverloadedError(UseCaseError):
    """Too many completions in flight: shed this one at once rather than queue it."""

    code = "overloaded"
