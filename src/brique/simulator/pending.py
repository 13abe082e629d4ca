"""Pending jobs indexed by (core tenant, tier), each group in the core's canonical order.

A cycle examines at most `max_job_test` jobs that cannot start per phase
(`SchedulingPolicy.max_job_test`), and pops each tenant's jobs tier by tier in
(submit time, id) order; the guarantee phase walks priority jobs in that order too.
So if the last job a group shows the core was not examined (`CycleResult.examined`),
no job behind it would have been either, and the decisions are exactly those of a
cycle over the whole queue. The engine hands the core each group's first `window`
jobs, checks that on the result and, in the rare case it fails, decides again with
a wider window: a cycle's cost no longer grows with the queue's depth.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from brique.domain.jobs import Job, Tier
from brique.scheduler import CycleResult

Group = tuple[str, Tier]


class PendingIndex:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.groups: dict[Group, list[tuple[float, str, int]]] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def __contains__(self, i: int) -> bool:
        return i in self.jobs

    def __iter__(self) -> Iterator[int]:
        return iter(self.jobs)

    def add(self, i: int, job: Job) -> None:
        self.jobs[i] = job
        insort(self.groups.setdefault((job.tenant, job.tier), []), (job.submitted_at, job.id, i))

    def pop(self, i: int) -> Job:
        job = self.jobs.pop(i)
        group = self.groups[(job.tenant, job.tier)]
        del group[bisect_left(group, (job.submitted_at, job.id, i))]
        return job

    def window(self, width: int) -> tuple[list[Job], list[str]]:
        """Each group's first `width` jobs, and the id of the last one of every cut group."""
        jobs: list[Job] = []
        last: list[str] = []
        by_i = self.jobs
        for keys in self.groups.values():
            head = keys[:width]
            jobs.extend(by_i[k[2]] for k in head)
            if len(keys) > width:
                last.append(head[-1][1])
        return jobs, last


def window_exact(result: CycleResult, last: list[str]) -> bool:
    """True when no cut group's last job in the window was examined (see module doc)."""
    return not any(job_id in result.examined for job_id in last)
