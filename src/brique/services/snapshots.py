"""Build the scheduler's input from the store: job records -> core jobs, health, usage, contracts."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from brique.domain.contracts import ContractBook
from brique.domain.fleet import HealthState
from brique.domain.job_lifecycle import JobState
from brique.domain.job_records import JobRecord
from brique.domain.jobs import Job, RunningJob
from brique.scheduler import ClusterSnapshot, Topology, decay_usage
from brique.scheduler.state import SchedulerState
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import fleet as fleet_repo
from brique.store.repos import jobs as repo

LIVE = (JobState.PENDING.value, *repo.ACTIVE)  # the jobs a scheduling cycle works on


def ts(at: datetime) -> float:
    return at.timestamp()


def core_job(row: JobRecord) -> Job:
    spec = row.spec
    return Job(
        id=row.id, tenant=row.org_id, gpus=row.gpus, tier=row.tier, project=row.project_id,
        placement=spec.placement, submitted_at=ts(row.submitted_at), max_runtime_s=spec.max_runtime_s,
        estimated_runtime_s=spec.estimated_runtime_s, preemption_grace_s=spec.grace_s,
    )  # fmt: skip


class JobCache:
    """Core jobs by (id, version): a job's scheduling inputs change only with its version, so a
    cycle re-decodes only the jobs that changed since the last one."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, int], Job] = {}
        self._seen: dict[tuple[str, int], Job] = {}

    def __call__(self, row: JobRecord) -> Job:
        key = (row.id, row.version)
        job = self._seen.get(key) or self._jobs.get(key) or core_job(row)
        self._seen[key] = job
        return job

    def end_cycle(self) -> None:
        """Forget jobs not used in this cycle (finished, or changed)."""
        self._jobs, self._seen = self._seen, {}


def running_job(row: JobRecord, now: datetime, jobs: Callable[[JobRecord], Job] = core_job) -> RunningJob:
    started = row.started_at or row.scheduled_at or now
    stopping = ts(row.stop_deadline) if row.stop_deadline is not None else None
    return RunningJob(job=jobs(row), gpus=row.gpu_ids, started_at=ts(started), stopping_at=stopping)


def health(session: Session) -> dict[str, HealthState]:
    nodes, gpus = fleet_repo.unhealthy_states(session)
    return {k: HealthState(v) for k, v in {**nodes, **gpus}.items()}


def contract_book(session: Session) -> ContractBook:
    return ContractBook.of(contracts_repo.all_contracts(session))


def advance_usage(
    session: Session, active: Iterable[JobRecord], now: datetime, half_life_s: float
) -> dict[str, float]:
    """Decay each tenant's usage to `now`, adding the GPUs it holds since the last update; persist it."""
    held: Counter[str] = Counter()
    for row in active:
        held[row.org_id] += row.gpus
    stored = repo.usage(session)
    out: dict[str, float] = {}
    for org_id in set(stored) | set(held):
        row = stored.get(org_id)
        before, since = (row.decayed_gpu_s, row.updated_at) if row else (0.0, now)
        out[org_id] = decay_usage(before, (now - since).total_seconds(), held[org_id], half_life_s)
        repo.save_usage(session, org_id, out[org_id], now)
    return out


def snapshot(
    topology: Topology,
    active: list[JobRecord],
    usage: dict[str, float],
    hl: dict[str, HealthState],
    now: datetime,
    jobs: Callable[[JobRecord], Job] = core_job,
) -> ClusterSnapshot:
    return ClusterSnapshot(
        topology=topology,
        running=tuple(running_job(r, now, jobs) for r in active if r.gpu_ids),
        usage=usage,
        health=hl,
    )


class JobView:
    """The jobs a cycle works on (pending, and those holding GPUs), kept across cycles.

    Each cycle reads only the rows changed since the last one (`updated_at`, re-reading a margin
    behind for transactions that committed late), then checks the count and version sum of the
    live jobs against the database; on any mismatch (a write it could not see by time: another
    clock, a late commit) it reloads everything. A failed cycle also drops the view.
    """

    def __init__(self, margin_s: float = 5.0) -> None:
        self.margin = timedelta(seconds=margin_s)
        self._jobs: dict[str, JobRecord] = {}
        self._since: datetime | None = None
        self.reloads = 0  # full loads so far (first one included), for tests and metrics

    def refresh(self, session: Session, now: datetime, specs: repo.SpecCache) -> dict[str, JobRecord]:
        if self._since is not None:
            for row in repo.changed_since(session, self._since, specs):
                if row.state.value in LIVE:
                    self._jobs[row.id] = row
                else:
                    self._jobs.pop(row.id, None)
            count, total = repo.checksum(session, LIVE)
            if count != len(self._jobs) or total != sum(j.version for j in self._jobs.values()):
                self._since = None
        if self._since is None:
            self._jobs = {row.id: row for row in repo.in_states(session, LIVE, specs)}
            self.reloads += 1
        self._since = now - self.margin
        return dict(self._jobs)

    def note_waits(self, waits: dict[str, tuple[str, str]]) -> None:
        """Wait reasons written without a new version: keep them, so unchanged ones are not rewritten."""
        for job_id, (code, message) in waits.items():
            job = self._jobs.get(job_id)
            if job is not None and (job.wait_code, job.wait_message) != (code, message[:1000]):
                self._jobs[job_id] = dataclasses.replace(job, wait_code=code, wait_message=message[:1000])

    def drop(self) -> None:
        self._since = None


class KeptState:
    """The scheduler core's `SchedulerState`, kept across cycles and fed the differences in running
    work (started, finished, stop requested); rebuilt when node health changes or after a failure."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.state: SchedulerState | None = None
        self._held: dict[str, RunningJob] = {}
        self._health: dict[str, HealthState] = {}
        self.rebuilds = 0

    def update(self, running: Iterable[RunningJob], hl: dict[str, HealthState]) -> SchedulerState:
        want = {rj.job.id: rj for rj in running}
        if self.state is None or hl != self._health:
            self.state = SchedulerState(self.topology, want.values(), hl)
            self._held, self._health = want, dict(hl)
            self.rebuilds += 1
            return self.state
        for job_id, rj in list(self._held.items()):
            if want.get(job_id) != rj:  # gone, or changed (a stop requested, another attempt)
                self.state.apply_finished(job_id)
                del self._held[job_id]
        for job_id, rj in want.items():
            if job_id not in self._held:
                self.state.apply_started(rj)
                self._held[job_id] = rj
        return self.state

    def drop(self) -> None:
        self.state = None
