"""What routes depend on, as `Annotated` aliases: the caller, and the bound use cases."""

from typing import Annotated

from fastapi import Depends, Request

from budget.bootstrap import Container
from budget.entrypoints.auth import current_caller
from budget.service_layer.use_cases import UseCases
from contracts.identity import Caller


def container(request: Request) -> Container:
    result: Container = request.app.state.container
    return result


def use_cases(request: Request) -> UseCases:
    return container(request).use_cases


App = Annotated[UseCases, Depends(use_cases)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
Resources = Annotated[Container, Depends(container)]
