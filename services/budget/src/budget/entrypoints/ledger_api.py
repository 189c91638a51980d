"""Routes for token types, credits, balances and the ledger: parse, call one use case, answer."""

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from budget.entrypoints.deps import CurrentCaller, Resources
from budget.entrypoints.openapi import problems
from budget.entrypoints.problems import ProblemError
from budget.entrypoints.schemas import (
    BalanceOut,
    CreditIn,
    IdempotencyKey,
    LedgerEntryOut,
    LedgerPage,
    TokenTypeIn,
    TokenTypeOut,
)
from budget.service_layer import ledger
from contracts.ids import TokenTypeId

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(prefix="/api/budget", tags=["budget"], responses=problems(401, 503))

# What _encode_cursor makes: unpadded url-safe base64 (documented in the OpenAPI).
_CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
OptionalIdempotencyKey = Annotated[IdempotencyKey | None, Header(alias="Idempotency-Key")]


@router.post("/token-types", status_code=201, responses=problems(403, 409))
async def create_token_type(
    body: TokenTypeIn, caller: CurrentCaller, resources: Resources
) -> TokenTypeOut:
    return TokenTypeOut.of(
        await ledger.create_token_type(resources.repos, caller, body.code, body.name)
    )


@router.get("/token-types")
async def list_token_types(caller: CurrentCaller, resources: Resources) -> list[TokenTypeOut]:
    return [TokenTypeOut.of(t) for t in await ledger.list_token_types(resources.repos)]


@router.post("/credits", status_code=201, responses=problems(403, 404))
async def credit(
    body: CreditIn,
    caller: CurrentCaller,
    resources: Resources,
    idempotency_key: OptionalIdempotencyKey = None,
) -> LedgerEntryOut:
    request = ledger.CreditRequest(body.owner_id, body.token_type_id, body.amount, body.reason)
    result = await ledger.credit(resources.repos, resources.clock, caller, request, idempotency_key)
    return LedgerEntryOut.of(result.entry)


@router.get("/balances")
async def balances(caller: CurrentCaller, resources: Resources) -> list[BalanceOut]:
    return [
        BalanceOut.of(b) for b in await ledger.balances(resources.repos, resources.clock, caller)
    ]


@router.get("/ledger")
async def ledger_entries(
    caller: CurrentCaller,
    resources: Resources,
    response: Response,
    token_type_id: TokenTypeId | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64, pattern=_CURSOR_PATTERN)] = None,
) -> LedgerPage:
    items, next_seq = await ledger.ledger_page(
        resources.repos, caller, token_type_id, _decode_cursor(cursor), limit
    )
    return LedgerPage(
        items=[LedgerEntryOut.of(e) for e in items],
        next_cursor=None if next_seq is None else _encode_cursor(next_seq),
    )


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        # ASCII digits only: str.isdigit() is true for superscripts and other scripts' digits
        if prefix != "s" or not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ProblemError(422, "invalid_cursor", "cursor: not a cursor from this API") from exc
