"""Use-case failures, each with the stable `code` the API puts in its problem document."""


class UseCaseError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class Forbidden(UseCaseError):
    status, code = 403, "forbidden"


class NotFound(UseCaseError):
    status, code = 404, "not_found"


class Conflict(UseCaseError):
    status, code = 409, "conflict"


class Unprocessable(UseCaseError):
    status, code = 422, "unprocessable"
