"""Token types, credits, balances and the ledger: the admin and owner use cases."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from budget.domain.model import Balance, LedgerEntry, TokenType
from budget.domain.rules import BalanceLimitExceededError
from budget.service_layer.errors import (
    AccountBusyError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from budget.service_layer.ports import Clock, IdempotencyKeyTakenError, Repositories, SaveResult
from budget.service_layer.steps import MAX_ATTEMPTS
from contracts.identity import Caller
from contracts.ids import OwnerId, TokenTypeId


@dataclass(frozen=True, slots=True)
class CreditRequest:
    owner_id: OwnerId
    token_type_id: TokenTypeId
    amount: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class CreditResult:
    entry: LedgerEntry
    replayed: bool


class _KeyRaceError(Exception):
    """A concurrent request with the same idempotency key committed first."""


def require_admin(caller: Caller) -> None:
    """Refuse a caller without the admin role."""
    if not caller.is_admin:
        raise ForbiddenError("This call needs the budget:admin role.")


async def create_token_type(repos: Repositories, caller: Caller, code: str, name: str) -> TokenType:
    """Add a token type (admin); its code is unique."""
    require_admin(caller)
    token_type = TokenType(id=uuid4(), code=code, name=name)
    if not await repos.token_types.add(token_type):
        raise ConflictError(f"Token type {code!r} already exists.", code="duplicate_code")
    return token_type


async def list_token_types(repos: Repositories) -> Sequence[TokenType]:
    """Every token type, by code."""
    return await repos.token_types.list()


async def credit(
    repos: Repositories,
    clock: Clock,
    caller: Caller,
    request: CreditRequest,
    idempotency_key: str | None = None,
) -> CreditResult:
    """Credit an owner (admin); a repeated `idempotency_key` returns the first entry."""
    require_admin(caller)
    try:
        return await _credit_once(repos, clock, caller, request, idempotency_key)
    except _KeyRaceError:
        # The other request committed; this second pass finds its entry and replays it.
        return await _credit_once(repos, clock, caller, request, idempotency_key)


async def _credit_once(
    repos: Repositories,
    clock: Clock,
    caller: Caller,
    request: CreditRequest,
    key: str | None,
) -> CreditResult:
    """One load and one save of the account, again if another step saved it in between."""
    async with repos.accounts.open() as accounts:
        for _ in range(MAX_ATTEMPTS):
            view = await accounts.load_for_credit(
                request.owner_id, request.token_type_id, caller.owner_id, key
            )
            if view.first is not None:
                _check_same_request(view.first, request)
                return CreditResult(view.first, replayed=True)
            if view.account is None:
                raise NotFoundError(f"Token type {request.token_type_id} does not exist.")
            try:
                entry = view.account.credit(
                    request.amount,
                    request.reason,
                    clock(),
                    created_by=caller.owner_id,
                    idempotency_key=key,
                )
            except BalanceLimitExceededError as exc:
                raise UnprocessableError(str(exc), code="balance_limit") from exc
            try:
                saved = await accounts.save(view.account)
            except IdempotencyKeyTakenError as exc:
                raise _KeyRaceError from exc
            if saved is SaveResult.SAVED:
                return CreditResult(entry, replayed=False)
    raise AccountBusyError(f"Account of owner {request.owner_id} kept changing; retry.")


def _check_same_request(first: LedgerEntry, request: CreditRequest) -> None:
    same = (first.owner_id, first.token_type_id, first.amount, first.reason) == (
        request.owner_id,
        request.token_type_id,
        request.amount,
        request.reason,
    )
    if not same:
        raise UnprocessableError(
            "This Idempotency-Key was already used for a different credit.",
            code="idempotency_key_reused",
        )


async def balances(repos: Repositories, clock: Clock, caller: Caller) -> Sequence[Balance]:
    """The caller's balances, with unexpired active holds counted as held."""
    return await repos.ledger.balances(caller.owner_id, clock())


async def ledger_page(
    repos: Repositories,
    caller: Caller,
    token_type_id: UUID | None,
    before_seq: int | None,
    limit: int,
) -> tuple[Sequence[LedgerEntry], int | None]:
    """One page of the caller's ledger, newest first."""
    return await repos.ledger.page(caller.owner_id, token_type_id, before_seq, limit)
