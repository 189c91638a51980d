"""The caller of a request: its bearer token, verified by the container's `JwtVerifier`."""

from fastapi import Request

from budget.adapters.tokens import InvalidToken, JwtVerifier
from budget.entrypoints.problems import ProblemError
from contracts.identity import Caller

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="todos-budget"'}


async def current_caller(request: Request) -> Caller:
    verifier: JwtVerifier | None = request.app.state.container.jwt_verifier
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Missing bearer token.")
    if verifier is None:
        raise _unauthorized("No public key is configured to verify tokens.")
    try:
        return verifier.verify(token.strip())
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from exc


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers=_CHALLENGE)
