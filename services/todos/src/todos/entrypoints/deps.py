"""The dependencies routes declare, as `Annotated` aliases (one file, one idiom).

`CurrentCaller` is the verified caller (401 problem otherwise), `Tasks` the task use cases
bound by the composition root, `Resources` the container for the internal endpoints.
"""

from typing import Annotated

from fastapi import Depends, Request

from contracts.identity import Caller
from todos.auth import UnauthenticatedError
from todos.bootstrap import Container
from todos.service_layer.application import TaskUseCases


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


async def _tasks(container: Resources) -> TaskUseCases:
    return container.tasks


CurrentCaller = Annotated[Caller, Depends(_current_caller)]
Tasks = Annotated[TaskUseCases, Depends(_tasks)]
