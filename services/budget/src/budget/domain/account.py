"""The `Account` aggregate: one owner's balance in one token type, as one task's step sees it.

Loaded with everything a step on one task needs (the balance, the task's cost and active hold,
the sum held by the account's other holds, whether the task was debited and whether the
calling attempt was aborted) and saved as a whole; `version` makes the save conditional, so
two steps on one account never both apply. Pure: no I/O, no clock (callers pass `now`).
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from budget.domain.model import EntryKind, Hold, HoldStatus, LedgerEntry, TaskCost
from budget.domain.rules import backed_after_abort, credited_balance, veto_reason


class Unbacked(StrEnum):
    """Why a debit had no live hold behind it (the balance may then go below zero)."""

    HOLD_EXPIRED = "hold_expired"
    NO_HOLD = "no_hold"


ABORTED_REASON = "This completion attempt was already aborted by the caller; nothing held."


@dataclass(frozen=True, slots=True)
class HoldVerdict:
    """Allow (with the hold that backs it, if any) or veto with `reason`."""

    allowed: bool
    reason: str | None = None
    hold_id: UUID | None = None


@dataclass(slots=True)
class Account:
    """Balance and holds of (owner, token type), focused on `task_id`; changes pending a save."""

    owner_id: UUID
    task_id: UUID
    token_type_id: UUID | None  # None: the task has neither a cost nor a hold, no account
    code: str
    opening_balance: int
    version: int  # of the row when loaded; 0 also when there is no row yet
    cost: TaskCost | None = None
    task_hold: Hold | None = None  # the task's hold with status active (maybe past expiry)
    held_by_others: int = 0  # active unexpired holds of the account, the task's own excluded
    debited: bool = False  # a debit for this task exists (at most one per owner and task)
    invocation_aborted: bool = False  # the calling attempt was aborted before
    hold_lapsed: bool = False  # a hold of the task expired before (loaded for events only)
    unbacked: "Unbacked | None" = None  # set by `capture` when no live hold backed the debit
    # Pending changes, written by one save.
    entries: list[LedgerEntry] = field(default_factory=list)
    new_hold: Hold | None = None
    changed_hold: Hold | None = None
    changed_cost: TaskCost | None = None
    cost_removed: bool = False
    expire_until: datetime | None = None  # mark the account's holds expired up to this instant
    aborted_invocation: UUID | None = None  # to remember for ever

    @property
    def balance(self) -> int:
        """The balance: the loaded one plus the entries of this step (balance = Σ entries)."""
        return self.opening_balance + sum(e.amount for e in self.entries)

    def held(self, now: datetime) -> int:
        """Σ of the account's active holds that have not expired at `now`."""
        own = self.current_hold
        return self.held_by_others + (own.amount if own and own.counts_at(now) else 0)

    def available(self, now: datetime) -> int:
        return self.balance - self.held(now)

    @property
    def current_hold(self) -> Hold | None:
        """The task's hold as this step left it so far (None once it stopped being active)."""
        for hold in (self.new_hold, self.changed_hold or self.task_hold):
            if hold is not None and hold.status is HoldStatus.ACTIVE:
                return hold
        return None

    def _set_hold(self, hold: Hold) -> None:
        """Record a change of the task's hold: the one made in this step, or the stored one."""
        if self.new_hold is not None and hold.id == self.new_hold.id:
            self.new_hold = hold
        else:
            self.changed_hold = hold

    @property
    def changed(self) -> bool:
        return bool(
            self.entries
            or self.new_hold
            or self.changed_hold
            or self.changed_cost
            or self.cost_removed
            or self.expire_until
            or self.aborted_invocation
        )

    def payable_cost(self) -> TaskCost | None:
        """The task's cost if completing it still has to pay it (not charged, task not deleted)."""
        cost = self.changed_cost or self.cost
        if cost is None or self.cost_removed or cost.charged_at is not None:
            return None
        return None if cost.task_deleted_at is not None else cost

    # --- the hook: hold, or veto
    def hold(
        self,
        now: datetime,
        ttl: timedelta,
        invocation_id: UUID | None = None,
        deadline: datetime | None = None,
    ) -> HoldVerdict:
        """Reuse the task's hold (a retry), hold the cost if affordable, else veto.

        Every allow leaves the hold with its whole TTL ahead: the completion it allows may be
        in flight for that long, and a lapsed hold would free its tokens for another task.
        """
        cost = self.payable_cost()
        if cost is None:
            # Nothing to pay, already paid, or the task is gone (its completion cannot succeed).
            return HoldVerdict(allowed=True)
        if invocation_id is not None and self.invocation_aborted:
            return HoldVerdict(allowed=False, reason=ABORTED_REASON)
        self._expire_own(now)
        existing = self.current_hold
        if (
            existing is not None
            and invocation_id is not None
            and invocation_id in existing.invocations
        ):
            # The same attempt again (a retry of a call, or its late duplicate): it holds, so
            # it is answered as its first call was, whatever the deadline says.
            return self._renew(existing, now + ttl, invocation_id)
        if deadline is not None and now >= deadline:
            return HoldVerdict(
                allowed=False,
                reason=(
                    f"Deadline {deadline.isoformat()} passed: the caller stopped waiting; "
                    "nothing held."
                ),
            )
        if existing is not None:
            # Another attempt at the same task reuses the hold, which now backs it too.
            return self._renew(existing, now + ttl, invocation_id)
        available = self.available(now)
        if available < cost.amount:
            return HoldVerdict(allowed=False, reason=veto_reason(cost.amount, self.code, available))
        assert self.token_type_id is not None  # a cost always names its token type
        self.new_hold = Hold(
            id=uuid4(),
            owner_id=self.owner_id,
            token_type_id=self.token_type_id,
            task_id=self.task_id,
            amount=cost.amount,
            status=HoldStatus.ACTIVE,
            expires_at=now + ttl,
            invocations=frozenset({invocation_id}) if invocation_id else frozenset(),
        )
        self.expire_until = now  # housekeeping while writing anyway: the account's stale holds
        return HoldVerdict(allowed=True, hold_id=self.new_hold.id)

    def _renew(self, hold: Hold, expires_at: datetime, invocation_id: UUID | None) -> HoldVerdict:
        """Allow with `hold`, bound to `invocation_id` too, lapsing no sooner than `expires_at`."""
        invocations = hold.invocations | {invocation_id} if invocation_id else hold.invocations
        renewed = replace(
            hold, invocations=invocations, expires_at=max(hold.expires_at, expires_at)
        )
        if renewed != hold:
            self._set_hold(renewed)
        return HoldVerdict(allowed=True, hold_id=hold.id)

    def _expire_own(self, now: datetime) -> None:
        """Mark the task's hold expired once it passed its expiry (it reserves nothing then)."""
        hold = self.current_hold
        if hold is not None and not hold.counts_at(now):
            self._set_hold(replace(hold, status=HoldStatus.EXPIRED))

    # --- money moves
    def debit(self, amount: int, reference_id: str, reason: str, now: datetime) -> LedgerEntry:
        """Append a debit: never refused, so the balance may go negative."""
        return self._append(-amount, EntryKind.DEBIT, reference_id, reason, now)

    def credit(
        self,
        amount: int,
        reason: str | None,
        now: datetime,
        *,
        created_by: UUID | None = None,
        idempotency_key: str | None = None,
    ) -> LedgerEntry:
        """Append a credit; refused (BalanceLimitExceededError) past the safe bound."""
        credited_balance(self.balance, amount)
        return self._append(
            amount, EntryKind.CREDIT, None, reason, now, created_by, idempotency_key
        )

    def _append(
        self,
        amount: int,
        kind: EntryKind,
        reference_id: str | None,
        reason: str | None,
        now: datetime,
        created_by: UUID | None = None,
        idempotency_key: str | None = None,
    ) -> LedgerEntry:
        assert self.token_type_id is not None, "no account without a token type"
        entry = LedgerEntry(
            id=uuid4(),
            owner_id=self.owner_id,
            token_type_id=self.token_type_id,
            amount=amount,
            kind=kind,
            reference_id=reference_id,
            reason=reason,
            created_at=now,
            created_by=created_by,
            idempotency_key=idempotency_key,
        )
        self.entries.append(entry)
        return entry

    def capture(self, now: datetime) -> bool:
        """Debit the task's cost once, capturing its hold; False when there is nothing to debit.

        A deleted task's cost (a tombstone) is still debited: todos only completes a task
        before deleting it, so a `completed` event always describes a real completion. The
        completion settles the task's hold either way. A debit that no live hold backs sets
        `unbacked`: its hold's TTL passed before the event was applied, or its cost was set
        after the hook had allowed the completion for free. Those are the only ways the
        balance may go below zero, so they are counted.
        """
        cost = self.changed_cost or self.cost
        hold = self.current_hold
        if cost is None or self.cost_removed or cost.charged_at is not None or self.debited:
            if hold is not None:
                self._set_hold(replace(hold, status=HoldStatus.RELEASED))
            return False
        reference = str(self.task_id)
        self.debit(cost.amount, reference, f"task {reference} completed", now)
        self.debited = True
        self.changed_cost = replace(cost, charged_at=now)
        if hold is not None:
            self._set_hold(replace(hold, status=HoldStatus.CAPTURED))
        if hold is None or not hold.counts_at(now):
            lapsed = hold is not None or self.hold_lapsed
            self.unbacked = Unbacked.HOLD_EXPIRED if lapsed else Unbacked.NO_HOLD
        return True

    # --- holds and costs going away
    def release(self) -> bool:
        """Release the task's active hold, if any."""
        hold = self.current_hold
        if hold is None:
            return False
        self._set_hold(replace(hold, status=HoldStatus.RELEASED))
        return True

    def abort(self, invocation_id: UUID | None) -> bool:
        """Remember the aborted attempt; release the hold once no attempt it backs is left."""
        if invocation_id is not None and not self.invocation_aborted:
            # A hook call of this attempt that runs later sees this record and holds nothing.
            self.aborted_invocation = invocation_id
            self.invocation_aborted = True
        hold = self.current_hold
        if hold is None:
            return False
        remaining = backed_after_abort(hold, invocation_id)
        if remaining is None:
            return self.release()
        if remaining != hold.invocations:
            self._set_hold(replace(hold, invocations=remaining))
            return True
        return False

    def delete_task(self, now: datetime) -> bool:
        """The task was deleted: keep its cost as a tombstone; leave its hold alone.

        The deletion may overtake the `completed` event of a completion that its hold backs
        (two outbox rows relayed in either order): only that attempt's `completed` or
        `completion-aborted` event, or the hold's TTL, may free the tokens.
        """
        cost = self.changed_cost or self.cost
        if cost is not None and not self.cost_removed and cost.task_deleted_at is None:
            # Not a DELETE: a `completed` event handled later must still debit it.
            self.changed_cost = replace(cost, task_deleted_at=now)
            return True
        return False

    def held_for_completion(self, now: datetime) -> Hold | None:
        """The task's hold while it still reserves tokens for a completion attempt."""
        hold = self.current_hold
        return hold if hold is not None and hold.counts_at(now) else None

    def remove_cost(self) -> None:
        """The owner removed the (uncharged, unheld) cost: forget it."""
        self.release()
        self.cost_removed = True
