"""Pending jobs indexed by (core tenant, tier), each group in the core's canonical order.

The core reads these groups in place (`scheduler.schedule_groups`): a cycle examines at
most `max_job_test` jobs that cannot start per phase (`SchedulingPolicy.max_job_test`)
and pops each tenant's jobs tier by tier in (submit time, id) order, so it reads each
group only as far as it examines it. A cycle's cost no longer grows with the queue's
depth, and its decisions are those of a cycle over the whole queue as one list (a test
checks). Jobs enter the index admitted (`scheduler.admission`, on arrival).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from operator import attrgetter

from brique.domain.jobs import Job, Tier

Group = tuple[str, Tier]
_CANONICAL = attrgetter("submitted_at", "id")  # the core's order (`queue.canonical`)


class PendingIndex:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.groups: dict[Group, list[Job]] = {}  # each in canonical order
        self.gpus: dict[str, int] = {}  # GPUs asked by pending jobs, per tenant (entitlements' demand)

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

    def pop(self, i: int) -> Job:
        job = self.jobs.pop(i)
        self.gpus[job.tenant] -= job.gpus
        group = self.groups[(job.tenant, job.tier)]
        del group[bisect_left(group, _CANONICAL(job), key=_CANONICAL)]
        return job

    def ordered(self) -> list[Job]:
        """Every pending job in canonical order (the reference path: one list for the core)."""
        return sorted(self.jobs.values(), key=_CANONICAL)
