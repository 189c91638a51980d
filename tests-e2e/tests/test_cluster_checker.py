"""The cluster suite's additions to the checker line: `overdrawn` from the ledger's running
sum, `recovery` from the answers' times, the verdict failing on an overdraw."""

from __future__ import annotations

from typing import Any

from e2e.cluster.cases import ClusterVerdict, Timeline, overdrawn
from e2e.faults.checker import Verdict


def _entry(amount: int, kind: str = "tt") -> dict[str, Any]:
    return {"amount": amount, "token_type_id": kind}


def test_an_owner_whose_running_sum_dipped_below_zero_is_overdrawn() -> None:
    # Newest first, as the API lists them: credit 10, debit 6, debit 6, credit 5 -> ends at 3.
    dipped = [_entry(5), _entry(-6), _entry(-6), _entry(10)]
    fine = [_entry(-6), _entry(-4), _entry(10)]
    other_type = [_entry(-50, "other"), _entry(10)]
    assert overdrawn({"a": dipped, "b": fine, "c": other_type}, "tt") == 1


def test_recovery_runs_from_the_fault_to_the_last_failed_answer() -> None:
    tl = Timeline(answers=[(9.0, 503), (10.5, 503), (12.0, 503), (13.0, 200)])
    assert tl.recovery() == 0.0  # no fault yet
    tl.fault_started = 10.0
    assert tl.recovery() == 2.0  # the 503 before the fault does not count


def test_the_line_carries_overdrawn_and_recovery_and_an_overdraw_fails() -> None:
    clean = ClusterVerdict(Verdict("x"), overdrawn=0, recovery=1.5)
    assert clean.passed
    assert " leaked=0 overdrawn=0 neg=0 " in clean.line()
    assert " recovery=1.5s dlq=0 " in clean.line()
    assert clean.line().split("[")[0].rstrip().endswith("PASS")
    broken = ClusterVerdict(Verdict("x"), overdrawn=1)
    assert not broken.passed
    assert " overdrawn=1 " in broken.line()
    assert broken.line().rstrip().endswith("FAIL")
