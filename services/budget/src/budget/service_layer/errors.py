"""Use-case failures: plain exceptions; the API maps them to problem documents at the edge
(`entrypoints/errors.py`).

Every class ends in `Error` and carries `code`, the stable name the API puts in its problem
document; the HTTP status is the edge's choice, not the use case's.
"""


class UseCaseError(Exception):
    """A refused use case; `code` is the stable name the API puts in its problem document."""

    code: str = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class ForbiddenError(UseCaseError):
    code = "forbidden"


class NotFoundError(UseCaseError):
    code = "not_found"


class ConflictError(UseCaseError):
    code = "conflict"


class UnprocessableError(UseCaseError):
    code = "unprocessable"


class AccountBusyError(UseCaseError):
    """An account kept changing under a step: transient, to be tried again (not the caller's
    fault, like a serialization failure)."""

    code = "unavailable"
