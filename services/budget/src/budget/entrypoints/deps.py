"""Dependencies the routers share: the container's unit of work and clock."""

from typing import Annotated

from fastapi import Depends, Request

from budget.bootstrap import Container
from budget.service_layer.ports import Clock, UnitOfWork


def container(request: Request) -> Container:
    result: Container = request.app.state.container
    return result


def unit_of_work(request: Request) -> UnitOfWork:
    return container(request).uow


def clock(request: Request) -> Clock:
    return container(request).clock


Uow = Annotated[UnitOfWork, Depends(unit_of_work)]
Now = Annotated[Clock, Depends(clock)]
