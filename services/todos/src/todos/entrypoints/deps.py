"""What routes depend on, as `Annotated` aliases (one file, one idiom).

`CurrentCaller` is the verified caller (401 problem otherwise); `Resources` the container the
composition root built, whose ports a route hands to the use case it calls.
"""

from typing import Annotated

from fastapi import Depends, Request

from contracts.identity import Caller
from todos.auth import UnauthenticatedError
from todos.bootstrap import Container


async def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


Resources = Annotated[Container, Depends(_container)]


async def _current_caller(request: Request, container: Resources) -> Caller:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("Missing bearer token.")
    if container.jwt_verifier is None:
        raise UnauthenticatedError("No public key is configured to verify tokens.")
    return container.jwt_verifier.verify(token.strip())


CurrentCaller = Annotated[Caller, Depends(_current_caller)]
