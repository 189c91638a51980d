"""The money check: every owner's balance and held amount, and one debit per completed task."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass


@dataclass(frozen=True)
class Balance:
    """What budget says about one owner's account."""

    balance: int
    held: int


def problems(
    credits: Mapping[str, int],
    costs: Mapping[str, tuple[str, int]],
    completed: Set[str],
    balances: Mapping[str, Balance],
    debits: Mapping[str, list[int]],
) -> list[str]:
    """Every way budget disagrees with what happened; empty when the balances are exact.

    `credits`: owner -> amount credited; `costs`: task -> (owner, cost); `completed`: the tasks
    todos holds as completed; `balances`: owner -> budget's account; `debits`: task -> amounts
    of the debit entries budget wrote for it (negative).
    """
    found: list[str] = []
    spent: dict[str, int] = dict.fromkeys(credits, 0)
    for task, (owner, cost) in costs.items():
        amounts = debits.get(task, [])
        if task in completed:
            spent[owner] += cost
            if amounts != [-cost]:
                found.append(f"task {task}: completed with cost {cost}, debits {amounts}")
        elif amounts:
            found.append(f"task {task}: still open, debits {amounts}")
    for owner, credit in credits.items():
        expected = credit - spent[owner]
        got = balances.get(owner, Balance(0, 0))
        if got.balance != expected:
            found.append(f"owner {owner}: balance {got.balance}, expected {expected}")
        if got.held != 0:
            found.append(f"owner {owner}: held {got.held} after the drain, expected 0")
    return found
