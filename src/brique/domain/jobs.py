"""Jobs as the scheduler sees them: what is asked for, and what is running.

Pure value types. Times are POSIX seconds (floats); durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from brique.domain.policy import ANYWHERE, PlacementPolicy

DEFAULT_MAX_RUNTIME_S = 86_400.0  # a job without a max runtime is stopped after a day
DEFAULT_GRACE_S = 30.0  # between the stop signal and the kill, to checkpoint


class Tier(StrEnum):
    """Service tier. `priority` is backed by contract guarantees; `preemptible` goes first."""

    PRIORITY = "priority"
    STANDARD = "standard"
    PREEMPTIBLE = "preemptible"


@dataclass(frozen=True, slots=True)
class Job:
    """A gang of `gpus` GPUs that starts all at once or not at all.

    estimated_runtime_s: the user's estimate (used by backfill); None means max_runtime_s.
    max_runtime_s: hard limit; the job is stopped after it.
    preemption_grace_s: time between the stop signal and the kill (for checkpointing).
    reservation: id of an advance reservation this job runs in, if any.
    """

    id: str
    tenant: str
    gpus: int
    tier: Tier = Tier.STANDARD
    project: str = "default"
    placement: PlacementPolicy = ANYWHERE
    submitted_at: float = 0.0
    max_runtime_s: float = DEFAULT_MAX_RUNTIME_S
    estimated_runtime_s: float | None = None
    preemption_grace_s: float = DEFAULT_GRACE_S
    reservation: str | None = None

    def __post_init__(self) -> None:
        if self.gpus < 1:
            raise ValueError("a job needs at least 1 GPU")
        if self.max_runtime_s <= 0:
            raise ValueError("max_runtime_s must be > 0")
        if self.estimated_runtime_s is not None and self.estimated_runtime_s <= 0:
            raise ValueError("estimated_runtime_s must be > 0")
        if self.preemption_grace_s < 0:
            raise ValueError("preemption_grace_s must be >= 0")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return _reduce(self)

    @property
    def expected_runtime_s(self) -> float:
        """The estimate, capped by the max runtime (no estimate: the max runtime)."""
        est = self.estimated_runtime_s
        return self.max_runtime_s if est is None else min(est, self.max_runtime_s)


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding GPUs since `started_at`. `stopping_at`: a stop was sent; gone by then.

    restarts: how often this job was preempted and requeued before this run; a restarted
    job is never preempted again inside the policy's protection window (`preempt_protect_s`).
    """

    job: Job
    gpus: tuple[str, ...]
    started_at: float
    stopping_at: float | None = None
    restarts: int = 0

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return _reduce(self)

    def expected_end(self, now: float) -> float:
        return expected_end(self.job, self.started_at, self.stopping_at, now)

    def latest_end(self, now: float) -> float:
        return latest_end(self.job, self.started_at, self.stopping_at, now)


def expected_end(job: Job, started_at: float, stopping_at: float | None, now: float) -> float:
    """When backfill expects the GPUs back: the estimate, else the max runtime, never before now."""
    if stopping_at is not None:
        return max(now, stopping_at)
    est_end = started_at + job.expected_runtime_s
    if est_end > now:
        return est_end
    return max(now, started_at + job.max_runtime_s)


def latest_end(job: Job, started_at: float, stopping_at: float | None, now: float) -> float:
    """When the GPUs are back for sure (max runtime or stop)."""
    end = started_at + job.max_runtime_s
    if stopping_at is not None:
        end = min(end, stopping_at)
    return max(now, end)


def _reduce(value: Job | RunningJob) -> tuple[type, tuple[object, ...]]:
    """Pickle and copy through `__init__`: compiled (`make core`), a frozen class cannot be restored field by
    field as the interpreter's pickling would."""
    return type(value), tuple(getattr(value, f.name) for f in fields(value))
