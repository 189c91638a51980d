"""Every use case with its dependencies bound (by `bootstrap`): an entrypoint calls one method
with the caller and its input, and knows nothing of units of work, clocks or settings."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from budget.domain.model import Balance, LedgerEntry, TaskCost, TokenType
from budget.service_layer import costs, events, hook, ledger
from budget.service_layer.ports import Clock, UnitOfWork
from contracts.events import IntegrationEvent
from contracts.hooks import BeforeCompleteTask
from contracts.identity import Caller
from contracts.ids import EventId, TaskId, TokenTypeId


@dataclass(frozen=True, slots=True)
class UseCases:
    uow: UnitOfWork
    clock: Clock
    hold_ttl: timedelta

    # token types, credits, balances, the ledger
    async def create_token_type(self, caller: Caller, code: str, name: str) -> TokenType:
        return await ledger.create_token_type(self.uow, caller, code, name)

    async def list_token_types(self, caller: Caller) -> Sequence[TokenType]:
        return await ledger.list_token_types(self.uow)

    async def credit(
        self, caller: Caller, request: ledger.CreditRequest, idempotency_key: str | None
    ) -> ledger.CreditResult:
        return await ledger.credit(self.uow, self.clock, caller, request, idempotency_key)

    async def balances(self, caller: Caller) -> Sequence[Balance]:
        return await ledger.balances(self.uow, self.clock, caller)

    async def ledger_page(
        self,
        caller: Caller,
        token_type_id: TokenTypeId | None,
        before_seq: int | None,
        limit: int,
    ) -> tuple[Sequence[LedgerEntry], int | None]:
        return await ledger.ledger_page(self.uow, caller, token_type_id, before_seq, limit)

    # task costs
    async def add_cost(
        self, caller: Caller, task_id: TaskId, token_type_id: TokenTypeId, amount: int
    ) -> TaskCost:
        return await costs.add_cost(self.uow, caller, task_id, token_type_id, amount)

    async def list_costs(self, caller: Caller, task_id: TaskId | None) -> Sequence[TaskCost]:
        return await costs.list_costs(self.uow, caller, task_id)

    async def delete_cost(self, caller: Caller, cost_id: UUID) -> None:
        await costs.delete_cost(self.uow, caller, cost_id, clock=self.clock)

    # todos' hook and events
    async def before_complete_task(self, call: BeforeCompleteTask) -> hook.Decision:
        return await hook.before_complete_task(
            self.uow,
            self.clock,
            self.hold_ttl,
            call.owner_id,
            call.task_id,
            invocation_id=call.invocation_id,
            deadline=call.deadline,
        )

    async def handle_events(
        self, batch: Sequence[tuple[EventId, IntegrationEvent]]
    ) -> list[events.Outcome]:
        return await events.handle_events(self.uow, self.clock, batch)
