"""Liveness, readiness and metrics: internal endpoints the gateway never exposes."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from todos.adapters.db import is_reachable
from todos.bootstrap import Container
from todos.entrypoints.observability import metrics_response

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    database = await is_reachable(container.engine)
    broker = container.broker.is_connected
    checks = {"database": "ok" if database else "down", "broker": "ok" if broker else "down"}
    ready = database and broker
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics() -> Response:
    return await asyncio.to_thread(metrics_response)
