"""What a scheduling cycle decides, and why.

Decisions are frozen values; a service persists them, then acts (decide, then do).
Each pending job gets exactly one of `Place`, `Reserve`, `Wait`, `Reject`; running
jobs may get a `Preempt`. Every "no" carries `Reason`s: a stable code plus a human
sentence, e.g. `waiting: needs 144 GPUs in one site meeting policy 'FR only';
largest free block there is 72`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReasonCode(StrEnum):
    # Wait
    NO_CAPACITY = "no_capacity"  # not enough free GPUs in a qualifying rack/site
    BEHIND_RESERVATION = "behind_reservation"  # would fit, but would delay a reserved start
    BORROW_CAP = "borrow_cap"  # tenant would borrow beyond its cap
    NO_BORROWING = "no_borrowing"  # tenant may not borrow beyond its guarantee
    RESERVATION_NOT_STARTED = "reservation_not_started"  # its advance reservation's window is ahead
    RESERVATION_FULL = "reservation_full"  # its advance reservation has too few free GPUs
    PROJECT_QUOTA = "project_quota"  # its project holds its quota of GPUs
    HEAD_BLOCKED = "head_blocked"  # backfill off and an earlier job is blocked
    NOT_EXAMINED = "not_examined"  # beyond the cycle's queue depth (`max_job_test`)
    # Reserve
    RESERVED = "reserved"  # head of queue: GPUs held for its earliest start
    # Reject
    NO_SITE = "no_site"  # no site meets the placement policy
    TOO_LARGE = "too_large"  # larger than any qualifying site/rack can ever hold
    OVER_GUARANTEE_NO_BORROW = "over_guarantee_no_borrow"  # bigger than guarantee + allowed borrowing
    UNKNOWN_RESERVATION = "unknown_reservation"
    RESERVATION_TOO_SMALL = "reservation_too_small"
    # Place / Preempt
    WITHIN_GUARANTEE = "within_guarantee"
    FAIR_SHARE = "fair_share"
    BACKFILL = "backfill"
    IN_RESERVATION = "in_reservation"
    PREEMPTED_FOR_GUARANTEE = "preempted_for_guarantee"
    PREEMPTED_FOR_JOB = "preempted_for_job"
    RESERVATION_DRAIN = "reservation_drain"


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Place:
    """Start `job_id` on `gpus` (domain GPU ids) in `site`.

    preempts: jobs (ids) that must be gone first; the GPUs are free once their grace ends.
    """

    job_id: str
    gpus: tuple[str, ...]
    site: str
    reasons: tuple[Reason, ...] = ()
    preempts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Preempt:
    """Send `job_id` a stop signal now; kill it `grace_s` seconds later."""

    job_id: str
    grace_s: float
    reason: Reason
    for_job: str | None = None


@dataclass(frozen=True, slots=True)
class Reserve:
    """Head of queue: `gpus` are held for `job_id`, which should start at `start_at`."""

    job_id: str
    start_at: float
    gpus: tuple[str, ...]
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Wait:
    job_id: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Reject:
    """The job can never run as asked (not merely not now)."""

    job_id: str
    reasons: tuple[Reason, ...]


Decision = Place | Preempt | Reserve | Wait | Reject


@dataclass(frozen=True, slots=True)
class CycleResult:
    """All decisions of one cycle: pending jobs in queue order, then preemptions.

    examined: ids of the pending jobs the cycle tried to start (the others waited
    unexamined: behind the queue depth or with the fleet full); callers that hand the
    core only the head of a deep queue use it to know the head was enough.
    wake_at: when a decision deferred by this cycle falls due (`SchedulingPolicy.guarantee_wait_s`):
    decide again then, even if nothing else happens; None when nothing was deferred.
    """

    decisions: tuple[Decision, ...]
    _by_job: dict[str, Decision] = field(default_factory=dict, compare=False, repr=False)
    examined: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    wake_at: float | None = None

    def __post_init__(self) -> None:
        for d in self.decisions:
            if not isinstance(d, Preempt):
                self._by_job[d.job_id] = d

    def for_job(self, job_id: str) -> Decision | None:
        """The decision about a pending job (Place/Reserve/Wait/Reject)."""
        return self._by_job.get(job_id)

    @property
    def places(self) -> tuple[Place, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Place))

    @property
    def preempts(self) -> tuple[Preempt, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Preempt))

    @property
    def reserves(self) -> tuple[Reserve, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Reserve))

    @property
    def waits(self) -> tuple[Wait, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Wait))

    @property
    def rejects(self) -> tuple[Reject, ...]:
        return tuple(d for d in self.decisions if isinstance(d, Reject))
