"""`make demo`: veto -> credit -> complete -> debit, told through a running stack's gateway."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import devkeys
import httpx

BOLD, DIM, RED, GREEN, RESET = "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[0m"
if not sys.stdout.isatty():
    BOLD = DIM = RED = GREEN = RESET = ""


def step(n: int, text: str) -> None:
    """Print a numbered headline."""
    print(f"\n{BOLD}{n}. {text}{RESET}")


def show(response: httpx.Response) -> dict[str, Any]:
    """Print the status line of a call and return its JSON body."""
    request = response.request
    colour = GREEN if response.is_success else RED
    status = f"{colour}{response.status_code}{RESET}"
    print(f"   {DIM}{request.method} {request.url.path}{RESET} -> {status}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """Like `show`, but stop the demo on an unexpected status."""
    body = show(response)
    if response.status_code not in statuses:
        print(f"{RED}unexpected answer:{RESET} {response.text}")
        raise SystemExit(1)
    return body


def wait_for_debit(owner: httpx.Client, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll the ledger until the task's debit appears (the consumer works asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = owner.get("/api/budget/ledger").json()["items"]
        debit = next(
            (e for e in items if e["kind"] == "debit" and e["reference_id"] == task_id), None
        )
        if debit is not None:
            return dict(debit)
        time.sleep(0.3)
    print(f"{RED}no debit for task {task_id} within {timeout:.0f} s{RESET}")
    raise SystemExit(1)


def wait_until_routed(client: httpx.Client, gateway: str, timeout: float = 60.0) -> bool:
    """Wait until the gateway routes to both APIs (its health checks mark a fresh service up
    a few seconds after the service starts); False, with the reason printed, if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            waiting = [
                path
                for path in ("/api/todos/tasks", "/api/budget/token-types")
                if client.get(path).status_code in (502, 503, 504)
            ]
        except httpx.HTTPError:
            print(f"{RED}No stack answers at {gateway}.{RESET} Start one with `make run`.")
            return False
        if not waiting:
            return True
        if time.monotonic() > deadline:
            print(f"{RED}The gateway at {gateway} has no healthy upstream for {waiting}.{RESET}")
            return False
        time.sleep(0.5)


def print_account(owner: httpx.Client, codes: dict[str, str]) -> None:
    """Balances and the ledger, as a person reads them."""
    print(f"   {'token':<14}{'balance':>9}{'held':>7}{'available':>11}")
    for b in owner.get("/api/budget/balances").json():
        code = codes.get(b["token_type_id"], b["token_type_id"][:8])
        print(f"   {code:<14}{b['balance']:>9}{b['held']:>7}{b['available']:>11}")
    print(f"\n   {'when (UTC)':<21}{'kind':<8}{'amount':>7}  reason")
    for e in reversed(owner.get("/api/budget/ledger").json()["items"]):
        when = e["created_at"][:19].replace("T", " ")
        print(f"   {when:<21}{e['kind']:<8}{e['amount']:>+7}  {e.get('reason') or ''}")


def main() -> int:
    """Tell the story step by step."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080"))
    parser.add_argument(
        "--dev-dir", type=Path, default=Path(os.environ.get("DEV_DIR", devkeys.DEFAULT_DEV_DIR))
    )
    args = parser.parse_args()
    dev = devkeys.ensure(args.dev_dir)
    owner_id = str(uuid.uuid4())
    admin = httpx.Client(
        base_url=args.gateway, timeout=10, headers=_auth(dev, str(uuid.uuid4()), admin=True)
    )
    owner = httpx.Client(base_url=args.gateway, timeout=10, headers=_auth(dev, owner_id))
    if not wait_until_routed(admin, args.gateway):
        return 1
    print(
        f"{BOLD}Todos & Budget demo{RESET} through the gateway at {args.gateway}; owner {owner_id}"
    )

    step(1, "An admin creates a token type")
    code = f"demo-{owner_id[:8]}"
    tt = expect(
        admin.post("/api/budget/token-types", json={"code": code, "name": "Demo credits"}), 201
    )
    print(f"   token type {code!r} ({tt['id']})")

    step(2, "The admin credits the owner 5 tokens")
    credit = {
        "owner_id": owner_id,
        "token_type_id": tt["id"],
        "amount": 5,
        "reason": "welcome bonus",
    }
    expect(admin.post("/api/budget/credits", json=credit), 201)

    step(3, "The owner creates a task and gives it a cost of 8 tokens")
    task = expect(owner.post("/api/todos/tasks", json={"title": "Write the quarterly report"}), 201)
    print(f"   task {task['title']!r} ({task['id']}) is {task['status']}")
    cost = {"task_id": task["id"], "token_type_id": tt["id"], "amount": 8}
    expect(owner.post("/api/budget/task-costs", json=cost), 201)

    step(4, "The owner tries to complete it: budget vetoes (5 < 8)")
    veto = expect(owner.post(f"/api/todos/tasks/{task['id']}/complete"), 409)
    hooks, reasons = ", ".join(veto.get("vetoed_by", [])), "; ".join(veto.get("reasons", []))
    print(f"   vetoed by {hooks}: {RED}{reasons}{RESET}")
    still = owner.get(f"/api/todos/tasks/{task['id']}").json()["status"]
    print(f"   the task is still {still}")

    step(5, "The admin credits 5 more")
    expect(admin.post("/api/budget/credits", json={**credit, "reason": "top-up"}), 201)

    step(6, "The owner completes the task: budget allows and holds 8")
    done = expect(owner.post(f"/api/todos/tasks/{task['id']}/complete"), 200)
    print(f"   task is {GREEN}{done['status']}{RESET} at {done['completed_at']}")

    step(7, "The completed event travels outbox -> RabbitMQ -> budget, which debits once")
    debit = wait_for_debit(owner, task["id"])
    print(f"   debit {debit['amount']} for task {debit['reference_id']}")

    step(8, "The owner's account")
    print_account(owner, {tt["id"]: code})
    print(f"\n{GREEN}Done.{RESET}")
    return 0


def _auth(dev: devkeys.DevSecrets, owner: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev.token(owner, admin=admin)}"}


if __name__ == "__main__":
    sys.exit(main())
