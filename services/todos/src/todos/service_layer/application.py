"""The use cases bound to their adapters: what an entrypoint calls, with the caller and input.

Built once by the composition root (`bootstrap.py`); a route calls one method with the
caller's owner id and its parsed input, and maps the errors it raises at the edge.
"""

from dataclasses import dataclass

from contracts.ids import OwnerId, TaskId
from todos.domain.model import Task, TaskStatus
from todos.service_layer import services
from todos.service_layer.capacity import Capacity
from todos.service_layer.ports import Clock, CompletionStore, HookGate, UnitOfWorkFactory
from todos.service_layer.services import Page


@dataclass(frozen=True, slots=True)
class TaskUseCases:
    uow: UnitOfWorkFactory
    completions: CompletionStore
    hooks: HookGate
    clock: Clock
    capacity: Capacity

    async def create(self, owner: OwnerId, *, title: str, description: str | None) -> Task:
        return await services.create_task(self.uow, self.clock, owner, title, description)

    async def get(self, owner: OwnerId, task_id: TaskId) -> Task:
        return await services.get_task(self.uow, owner, task_id)

    async def list(
        self, owner: OwnerId, *, status: TaskStatus | None, limit: int, cursor: str | None
    ) -> Page:
        return await services.list_tasks(self.uow, owner, status=status, limit=limit, cursor=cursor)

    async def edit(
        self,
        owner: OwnerId,
        task_id: TaskId,
        *,
        title: str | None,
        description: str | None,
        clear_description: bool,
    ) -> Task:
        return await services.edit_task(
            self.uow,
            self.clock,
            owner,
            task_id,
            title=title,
            description=description,
            clear_description=clear_description,
        )

    async def delete(self, owner: OwnerId, task_id: TaskId) -> None:
        await services.delete_task(self.uow, self.clock, owner, task_id)

    async def complete(self, owner: OwnerId, task_id: TaskId) -> Task:
        return await services.complete_task(
            self.completions, self.clock, self.hooks, owner, task_id, capacity=self.capacity
        )
