"""The cluster suite's addition to the checker line: `recovery` from the answers' times; the
checker's own `overdrawn` column fails a case as it does in the fault suite."""

from __future__ import annotations

from e2e.cluster.cases import ClusterVerdict, Timeline
from e2e.faults.checker import Verdict


def test_recovery_runs_from_the_fault_to_the_last_failed_answer() -> None:
    tl = Timeline(answers=[(9.0, 503), (10.5, 503), (12.0, 503), (13.0, 200)])
    assert tl.recovery() == 0.0  # no fault yet
    tl.fault_started = 10.0
    assert tl.recovery() == 2.0  # the 503 before the fault does not count


def test_the_line_carries_overdrawn_and_recovery_and_an_overdraw_fails() -> None:
    clean = ClusterVerdict(Verdict("x"), recovery=1.5)
    assert clean.passed
    assert " leaked=0 overdrawn=0 " in clean.line()
    assert " recovery=1.5s dlq=0 " in clean.line()
    assert clean.line().split("[")[0].rstrip().endswith("PASS")
    broken = ClusterVerdict(Verdict("x", overdrawn=1))
    assert not broken.passed
    assert " overdrawn=1 " in broken.line()
    assert broken.line().rstrip().endswith("FAIL")
