"""Pending jobs indexed by (core tenant, tier), each group in the core's canonical order.

A cycle examines at most `max_job_test` jobs that cannot start per phase
(`SchedulingPolicy.max_job_test`), and pops each tenant's jobs tier by tier in
(submit time, id) order; the guarantee phase walks priority jobs in that order too.
So if the last job a group shows the core was not examined (`CycleResult.examined`),
no job behind it would have been either, and the decisions are exactly those of a
cycle over the whole queue. The engine hands the core each group's first `window`
jobs, checks that on the result and, in the rare case it fails, decides again with
the groups that were too narrow widened: a cycle's cost no longer grows with the
queue's depth. The argument is per group, so groups may be shown to different depths.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

from brique.domain.jobs import Job, Tier
from brique.scheduler import CycleResult

Group = tuple[str, Tier]


class PendingIndex:
    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.groups: dict[Group, list[tuple[float, str, int, Job]]] = {}  # the job rides along: no look-up
        self.group_of: dict[str, Group] = {}  # job id -> its group
        self.gpus: dict[str, int] = {}  # GPUs asked by pending jobs, per tenant (`hidden`)

    def __len__(self) -> int:
        return len(self.jobs)

    def __contains__(self, i: int) -> bool:
        return i in self.jobs

    def __iter__(self) -> Iterator[int]:
        return iter(self.jobs)

    def add(self, i: int, job: Job) -> None:
        self.jobs[i] = job
        self.gpus[job.tenant] = self.gpus.get(job.tenant, 0) + job.gpus
        group = self.group_of[job.id] = (job.tenant, job.tier)
        insort(self.groups.setdefault(group, []), (job.submitted_at, job.id, i, job))

    def pop(self, i: int) -> Job:
        job = self.jobs.pop(i)
        self.gpus[job.tenant] -= job.gpus
        group = self.groups[self.group_of.pop(job.id)]
        del group[bisect_left(group, (job.submitted_at, job.id, i))]
        return job

    def hidden(self, shown: list[Job]) -> dict[str, float]:
        """GPUs asked by pending jobs a window leaves out, per tenant: the core's entitlements count the
        whole queue's demand (`schedule_state`'s `hidden_demand`), so they do not depend on the window."""
        out = {t: float(g) for t, g in self.gpus.items() if g}
        for job in shown:
            out[job.tenant] -= job.gpus
        return {t: g for t, g in out.items() if g > 0}

    def depths(self, examined: Iterable[str], width: int) -> dict[Group, int]:
        """Per group deeper than `width`: twice the depth of its deepest examined job (the next cycle's
        window there, so a deep group is not shown twice at one instant, nor deeper than it needs).

        The depth is counted, not looked up: a cycle examines each group's jobs from its head on, so
        the count of its examined jobs is the depth of the deepest. A hint only: `too_narrow` keeps the
        decisions exact whatever the window."""
        count: dict[Group, int] = {}
        group_of = self.group_of
        for job_id in examined:
            group = group_of.get(job_id)
            if group is not None:
                count[group] = count.get(group, 0) + 1
        return {g: 2 * d for g, d in count.items() if 2 * d > width}

    def window(self, width: int, wider: dict[Group, int] | None = None) -> tuple[list[Job], dict[str, Group]]:
        """Each group's first `width` jobs (`wider[group]` for some), in canonical order (submit time, id:
        the core's), and the last one of every cut group."""
        entries: list[tuple[float, str, int, Job]] = []
        last: dict[str, Group] = {}
        for group, keys in self.groups.items():
            n = wider.get(group, width) if wider else width
            if len(keys) > n:
                entries += keys[:n]
                last[keys[n - 1][1]] = group
            else:
                entries += keys
        entries.sort()  # (submit time, id) decide: ids are unique, so jobs are never compared
        return [e[3] for e in entries], last


def too_narrow(result: CycleResult, last: dict[str, Group]) -> list[Group]:
    """The cut groups whose last job in the window was examined: only they need widening (module doc)."""
    examined = result.examined
    return [group for job_id, group in last.items() if job_id in examined]
