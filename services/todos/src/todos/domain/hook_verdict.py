"""What the hooks' answers mean for a completion: pure rules, no I/O."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

FailurePolicy = Literal["fail", "ignore"]


class AnswerKind(StrEnum):
    ALLOW = "allow"
    VETO = "veto"
    FAILED = "failed"  # timeout, unreachable, 5xx, garbage, or the breaker is open
    # Never sent: no local capacity (a connection slot) within the timeout. Our overload, not
    # the hook's failure; the hook cannot hold anything for a call it never received.
    SHED = "shed"


@dataclass(frozen=True, slots=True)
class HookAnswer:
    """One subscription's answer to one invocation."""

    hook: str
    kind: AnswerKind
    policy: FailurePolicy = "fail"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined outcome: allowed, or the vetoes / blocking failures that stop it."""

    vetoed_by: tuple[str, ...]
    reasons: tuple[str, ...]
    unavailable: tuple[str, ...]
    may_hold: bool  # some hook allowed, or may have (its outcome is unknown)
    shed: tuple[str, ...] = ()  # `fail` hooks we could not even call (we are overloaded)

    @property
    def allowed(self) -> bool:
        return not self.vetoed_by and not self.unavailable and not self.shed


def judge(answers: list[HookAnswer]) -> Verdict:
    """Any veto blocks; a failure (or a shed call) blocks under `fail`, is allow under `ignore`."""
    vetoes = [a for a in answers if a.kind is AnswerKind.VETO]
    blocking = [a for a in answers if a.kind is AnswerKind.FAILED and a.policy == "fail"]
    shed = [a for a in answers if a.kind is AnswerKind.SHED and a.policy == "fail"]
    return Verdict(
        vetoed_by=tuple(a.hook for a in vetoes),
        reasons=tuple(a.reason or "vetoed" for a in vetoes),
        unavailable=tuple(a.hook for a in blocking),
        may_hold=any(a.kind in (AnswerKind.ALLOW, AnswerKind.FAILED) for a in answers),
        shed=tuple(a.hook for a in shed),
    )
