"""Liveness, readiness and metrics: internal endpoints the gateway never exposes."""

import asyncio
import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from budget.adapters.db import READINESS_TIMEOUT_SECONDS, is_reachable
from budget.adapters.repository import SqlLedgerView
from budget.bootstrap import Container
from budget.entrypoints.observability import metrics_response
from budget.metrics import HOLDS_ACTIVE
from budget.schema_gate import SchemaGate

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    # The database only: the API needs neither the broker nor the workers to answer (events
    # wait in the outbox), so a broker outage must not take it out of the gateway's rotation.
    reachable = await is_reachable(container.engine)
    # Not before the migration Job has brought the schema to this release's head.
    gate: SchemaGate = _schema_gate(request)
    migrated = reachable and await gate.reached(container.engine)
    ready = reachable and migrated
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": {
                "database": "ok" if reachable else "down",
                "schema": "ok" if migrated else ("unknown" if not reachable else "behind"),
            },
        },
        status_code=200 if ready else 503,
    )


def _schema_gate(request: Request) -> SchemaGate:
    state = request.app.state
    if not hasattr(state, "schema_gate"):
        state.schema_gate = SchemaGate()
    gate: SchemaGate = state.schema_gate
    return gate


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    container: Container = request.app.state.container
    # A scrape must answer even when the database does not: the gauges keep their last value.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await _refresh_gauges(container)
    return await asyncio.to_thread(metrics_response)


async def _refresh_gauges(container: Container) -> None:
    """The unexpired active holds."""
    HOLDS_ACTIVE.set(await SqlLedgerView(container.engine).count_active_holds(container.clock()))
