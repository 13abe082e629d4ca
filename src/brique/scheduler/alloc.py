"""What a cycle's state holds per job: allocations (`Alloc`) and holds (`Hold`).

An `Alloc` is a job holding GPUs: running when the cycle starts (kept by
`SchedulerState` across cycles) or placed in this cycle. Its backfill ends are
computed from `now` on demand (`expected_end`, `latest_end`: the same rules as
`RunningJob`), so a persistent allocation stays valid from one cycle to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brique.domain.jobs import Job, expected_end, latest_end


@dataclass(slots=True)
class Alloc:
    """A job holding GPUs: running at snapshot time, or placed in this cycle."""

    job: Job
    gpus: list[int]
    started_at: float
    stop_at: float | None = None  # stop signal sent before this cycle: gone by then
    placed_now: bool = False
    stopping: bool = False  # stop signal sent (before or during this cycle)
    protected: bool = False  # within-guarantee priority work: never preempted
    borrowed: bool = False  # beyond its tenant's guarantee
    restarted: bool = False  # preempted before: its protection window binds every preemption
    rack_spread: tuple[tuple[int, int], ...] | None = None  # memo of `spread` (reset on health changes)

    def spread(self, usable: bytes | bytearray, gpu_rack: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(rack, usable GPUs of this allocation there), in order of first GPU; memoised."""
        got = self.rack_spread
        if got is None:
            counts: dict[int, int] = {}
            for x in self.gpus:
                if usable[x]:
                    counts[gpu_rack[x]] = counts.get(gpu_rack[x], 0) + 1
            got = self.rack_spread = tuple(counts.items())
        return got

    def expected_end(self, now: float) -> float:
        """Backfill's view (estimate, else max runtime, never before now)."""
        return expected_end(self.job, self.started_at, self.stop_at, now)

    def latest_end(self, now: float) -> float:
        """When the GPUs are back for sure (max runtime or stop)."""
        return latest_end(self.job, self.started_at, self.stop_at, now)


@dataclass(slots=True)
class Hold:
    """GPUs kept for one owner. Others may use them only if they end by `deadline`."""

    owner: str  # reservation id or head job id
    deadline: float
    strict: bool  # judge others by max runtime (advance reservations) or estimate (head)
    reservation: str | None = None  # when inside an active advance reservation window
    tenant: str | None = None
    gpus: list[int] = field(default_factory=list)
