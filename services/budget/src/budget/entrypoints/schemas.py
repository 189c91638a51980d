"""Request and response bodies of the budget API (docs/architecture.md#budget-api)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from budget.domain.model import MAX_AMOUNT, Balance, LedgerEntry, TaskCost, TokenType
from contracts.ids import OwnerId, TaskId, TokenTypeId
from contracts.text import NOT_BLANK, STORABLE

# Every string of a request ends with STORABLE or NOT_BLANK: no NUL, no lone surrogate.


def _whole_number(value: object) -> object:
    """JSON has one number type: 5.0 is the integer 5 (JSON Schema agrees), 5.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# strict: "5" and true are not amounts; the number 5.0 is
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True), BeforeValidator(_whole_number)]
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", min_length=1, max_length=64),
    STORABLE,
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), NOT_BLANK]
Reason = Annotated[str, StringConstraints(max_length=500), STORABLE]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200), STORABLE]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenTypeIn(_Body):
    code: Slug
    name: Name


class TokenTypeOut(BaseModel):
    id: UUID
    code: str
    name: str

    @classmethod
    def of(cls, t: TokenType) -> "TokenTypeOut":
        return cls(id=t.id, code=t.code, name=t.name)


class CreditIn(_Body):
    owner_id: OwnerId
    token_type_id: TokenTypeId
    amount: Amount
    reason: Reason | None = None


class LedgerEntryOut(BaseModel):
    id: UUID
    owner_id: UUID
    token_type_id: UUID
    amount: int
    kind: Literal["credit", "debit"]
    reference_id: str | None
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, e: LedgerEntry) -> "LedgerEntryOut":
        return cls(
            id=e.id,
            owner_id=e.owner_id,
            token_type_id=e.token_type_id,
            amount=e.amount,
            kind=e.kind.value,
            reference_id=e.reference_id,
            reason=e.reason,
            created_at=e.created_at,
        )


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    token_type_id: UUID
    balance: int
    held: int
    available: int

    @classmethod
    def of(cls, b: Balance) -> "BalanceOut":
        return cls(
            token_type_id=b.token_type_id, balance=b.balance, held=b.held, available=b.available
        )


class TaskCostIn(_Body):
    task_id: TaskId
    token_type_id: TokenTypeId
    amount: Amount


class TaskCostOut(BaseModel):
    id: UUID
    owner_id: UUID
    task_id: UUID
    token_type_id: UUID
    amount: int

    @classmethod
    def of(cls, c: TaskCost) -> "TaskCostOut":
        return cls(
            id=c.id,
            owner_id=c.owner_id,
            task_id=c.task_id,
            token_type_id=c.token_type_id,
            amount=c.amount,
        )
