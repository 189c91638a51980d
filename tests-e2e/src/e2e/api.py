"""Callers of the public API through the gateway: an admin and owners, each with its own token."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from e2e.identity import TokenMaker


class Caller:
    """One identity talking to the gateway; thin helpers for the calls the stories make."""

    def __init__(
        self,
        gateway_url: str,
        tokens: TokenMaker,
        *,
        admin: bool = False,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.id = uuid.uuid4()
        self.http = httpx.AsyncClient(
            base_url=gateway_url,
            timeout=15.0,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"Authorization": f"Bearer {tokens.token(self.id, admin=admin)}"},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def create_token_type(self) -> str:
        """A fresh token type (admin only); returns its id."""
        code = f"e2e-{uuid.uuid4().hex[:12]}"
        r = await self.http.post("/api/budget/token-types", json={"code": code, "name": code})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def credit(self, owner: uuid.UUID, token_type: str, amount: int) -> None:
        """Credit `owner` (admin only)."""
        body = {"owner_id": str(owner), "token_type_id": token_type, "amount": amount}
        r = await self.http.post("/api/budget/credits", json=body)
        assert r.status_code == 201, r.text

    async def create_task(self, title: str = "e2e task") -> str:
        """A new open task; returns its id."""
        r = await self.http.post("/api/todos/tasks", json={"title": title})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def set_cost(self, task_id: str, token_type: str, amount: int) -> None:
        """Give a task a cost in `token_type`."""
        body = {"task_id": task_id, "token_type_id": token_type, "amount": amount}
        r = await self.http.post("/api/budget/task-costs", json=body)
        assert r.status_code == 201, r.text

    async def complete(self, task_id: str) -> httpx.Response:
        """Try to complete a task; the caller asserts on the answer."""
        return await self.http.post(f"/api/todos/tasks/{task_id}/complete")

    async def balance(self, token_type: str) -> dict[str, Any]:
        """This caller's balance row for `token_type` (zeros when there is none)."""
        r = await self.http.get("/api/budget/balances")
        assert r.status_code == 200, r.text
        rows = [b for b in r.json() if b["token_type_id"] == token_type]
        return rows[0] if rows else {"balance": 0, "held": 0, "available": 0}

    async def ledger(self) -> list[dict[str, Any]]:
        """Every ledger entry of this caller, newest first (follows the cursor)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            r = await self.http.get("/api/budget/ledger", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            items.extend(page["items"])
            if not page["next_cursor"]:
                return items
            params["cursor"] = page["next_cursor"]

    async def debits_for(self, task_id: str) -> list[dict[str, Any]]:
        """The debits recorded against one task."""
        return [
            e for e in await self.ledger() if e["kind"] == "debit" and e["reference_id"] == task_id
        ]

    async def wait_for_debits(
        self, task_id: str, count: int = 1, within: float = 20.0
    ) -> list[dict[str, Any]]:
        """Poll until `count` debits for the task exist (events are asynchronous)."""
        deadline = time.monotonic() + within
        while True:
            debits = await self.debits_for(task_id)
            if len(debits) >= count or time.monotonic() > deadline:
                return debits
            await asyncio.sleep(0.2)
