"""Pending jobs indexed by (core tenant, tier), each group in the core's canonical order.

The core reads these groups in place (`scheduler.schedule_groups`): a cycle examines at
most `max_job_test` jobs that cannot start per phase (`SchedulingPolicy.max_job_test`)
and pops each tenant's jobs tier by tier in (submit time, id) order, so it reads each
group only as far as it examines it. A cycle's cost no longer grows with the queue's
depth, and its decisions are those of a cycle over the whole queue as one list (a test
checks). Jobs enter the index admitted (`scheduler.admission`, on arrival). Each group also keeps
its jobs' GPUs, expected and max runtimes sorted (`floors`: the smallest of each), which lets a
cycle see at once that no job of a group can start on what is idle (`schedule_groups(floors=)`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping
from operator import attrgetter

from brique.domain.jobs import Job, Tier

Group = tuple[str, Tier]
_CANONICAL = attrgetter("submitted_at", "id")  # the core's order (`queue.canonical`)


class PendingIndex:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.groups: dict[Group, list[Job]] = {}  # each in canonical order
        self.gpus: dict[str, int] = {}  # GPUs asked by pending jobs, per tenant (entitlements' demand)
        self._sorted: dict[Group, tuple[list[int], list[float], list[float]]] = {}  # GPUs, runtimes, max
        self.floors = Floors(self._sorted)

    def __len__(self) -> int:
        return len(self.jobs)

    def __contains__(self, i: int) -> bool:
        return i in self.jobs

    def __iter__(self) -> Iterator[int]:
        return iter(self.jobs)

    def add(self, i: int, job: Job) -> None:
        self.jobs[i] = job
        self.gpus[job.tenant] = self.gpus.get(job.tenant, 0) + job.gpus
        group = self.groups.get((job.tenant, job.tier))
        if group is None:
            group = self.groups[(job.tenant, job.tier)] = []
        if not group or _CANONICAL(group[-1]) < _CANONICAL(job):
            group.append(job)  # arrivals come in submit order: the common case
        else:
            insort(group, job, key=_CANONICAL)
        got = self._sorted.get((job.tenant, job.tier))
        if got is None:
            got = self._sorted[(job.tenant, job.tier)] = ([], [], [])
        insort(got[0], job.gpus)
        insort(got[1], job.expected_runtime_s)
        insort(got[2], job.max_runtime_s)

    def pop(self, i: int) -> Job:
        job = self.jobs.pop(i)
        self.gpus[job.tenant] -= job.gpus
        group = self.groups[(job.tenant, job.tier)]
        del group[bisect_left(group, _CANONICAL(job), key=_CANONICAL)]
        sizes, runs, most = self._sorted[(job.tenant, job.tier)]
        del sizes[bisect_left(sizes, job.gpus)]
        del runs[bisect_left(runs, job.expected_runtime_s)]
        del most[bisect_left(most, job.max_runtime_s)]
        return job

    def ordered(self) -> list[Job]:
        """Every pending job in canonical order (the reference path: one list for the core)."""
        return sorted(self.jobs.values(), key=_CANONICAL)


class Floors(Mapping[Group, tuple[int, float, float]]):
    """Per group with jobs: (fewest GPUs, shortest expected runtime, shortest max runtime) of its jobs."""

    def __init__(self, lists: dict[Group, tuple[list[int], list[float], list[float]]]) -> None:
        self._lists = lists

    def __getitem__(self, group: Group) -> tuple[int, float, float]:
        sizes, runs, most = self._lists[group]
        if not sizes:
            raise KeyError(group)
        return sizes[0], runs[0], most[0]

    def get(self, group: Group, default: None = None) -> tuple[int, float, float] | None:  # type: ignore[override]
        lists = self._lists.get(group)
        return (lists[0][0], lists[1][0], lists[2][0]) if lists and lists[0] else default

    def __iter__(self) -> Iterator[Group]:
        return (g for g, lists in self._lists.items() if lists[0])

    def __len__(self) -> int:
        return sum(1 for lists in self._lists.values() if lists[0])
