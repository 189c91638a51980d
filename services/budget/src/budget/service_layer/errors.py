"""Use-case failures: plain exceptions; the API maps them to problem documents at the edge."""


class UseCaseError(Exception):
    """A refused use case; `code` is the stable name the API puts in its problem document."""

    code: str = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class Forbidden(UseCaseError):
    code = "forbidden"


class NotFound(UseCaseError):
    code = "not_found"


class Conflict(UseCaseError):
    code = "conflict"


class Unprocessable(UseCaseError):
    code = "unprocessable"


class AccountBusy(Exception):
    """An account kept changing under a step: transient, to be tried again (not the caller's
    fault, like a serialization failure)."""
