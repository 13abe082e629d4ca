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
from brique.domain.policy import PlacementPolicy
from brique.domain.projects import ProjectGovernance
from brique.scheduler import ClusterSnapshot, Topology, decay_usage
from brique.scheduler.state import SchedulerState
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import fleet as fleet_repo
from brique.store.repos import job_cycle
from brique.store.repos import jobs as repo
from brique.store.repos import projects as projects_repo

LIVE = (JobState.PENDING.value, *repo.ACTIVE)  # the jobs a scheduling cycle works on


def ts(at: datetime) -> float:
    return at.timestamp()


def core_job(row: JobRecord, placements: dict[PlacementPolicy, PlacementPolicy] | None = None) -> Job:
    """The scheduler core's view of a job. With `placements`, equal placement policies become one
    object: the core's caches key on the policy's identity (cheaper than hashing it), and each job's
    spec decoded from the database carries its own copy."""
    spec = row.spec
    placement = spec.placement if placements is None else placements.setdefault(spec.placement, spec.placement)
    return Job(
        id=row.id, tenant=row.org_id, gpus=row.gpus, tier=row.tier, project=row.project_id,
        placement=placement, submitted_at=ts(row.submitted_at), max_runtime_s=spec.max_runtime_s,
        estimated_runtime_s=spec.estimated_runtime_s, preemption_grace_s=spec.grace_s,
    )  # fmt: skip


class JobCache:
    """Core jobs by (id, version): a job's scheduling inputs change only with its version, so a
    cycle re-decodes only the jobs that changed since the last one."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, int], Job] = {}
        self._seen: dict[tuple[str, int], Job] = {}
        self._placements: dict[PlacementPolicy, PlacementPolicy] = {}  # one object per distinct policy

    def __call__(self, row: JobRecord) -> Job:
        key = (row.id, row.version)
        job = self._seen.get(key) or self._jobs.get(key) or core_job(row, self._placements)
        self._seen[key] = job
        return job

    def end_cycle(self) -> None:
        """Forget jobs not used in this cycle (finished, or changed)."""
        self._jobs, self._seen = self._seen, {}
        if len(self._placements) > 4096:  # stays small (policies per project), but stays bounded
            self._placements.clear()


def running_job(row: JobRecord, now: datetime, jobs: Callable[[JobRecord], Job] = core_job) -> RunningJob:
    started = row.started_at or row.scheduled_at or now
    stopping = ts(row.stop_deadline) if row.stop_deadline is not None else None
    return RunningJob(job=jobs(row), gpus=row.gpu_ids, started_at=ts(started), stopping_at=stopping)


def health(session: Session) -> dict[str, HealthState]:
    nodes, gpus = fleet_repo.unhealthy_states(session)
    return {k: HealthState(v) for k, v in {**nodes, **gpus}.items()}


def contract_book(session: Session, governance: list[ProjectGovernance] | None = None) -> ContractBook:
    """Every contract in force, with the guaranteed shares orgs gave their projects (from
    `governance`, every project's, when the caller has read it already)."""
    found = projects_repo.all_governance(session) if governance is None else governance
    shares = [(g.org_id, g.project_id, g.guaranteed_gpus) for g in found]
    return ContractBook.of(contracts_repo.all_contracts(session), project_shares=shares)


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

    Each cycle asks which rows changed since the last one (`updated_at`, re-reading a margin behind
    for transactions that committed late): their id, version and state only, and reads whole only
    those at a version it does not hold. The cycle's own writes are noted after its commit (`note`),
    so they are not read back. Then it checks the count and version sum of the live jobs against
    the database; on any mismatch (a write it could not see by time: another clock, a late commit)
    it reloads everything. A failed cycle also drops the view.
    """

    def __init__(self, margin_s: float = 5.0) -> None:
        self.margin = timedelta(seconds=margin_s)
        self.specs = job_cycle.SpecTexts()
        self.pending: dict[str, JobRecord] = {}  # read-only for callers, like `active`
        self.active: dict[str, JobRecord] = {}
        self._queue: list[JobRecord] | None = None  # `pending` by id, until it changes
        self._sum = 0  # the sum of the versions of the jobs held
        self._since: datetime | None = None
        self.reloads = 0  # full loads so far (first one included), for tests and metrics
        self.read = 0  # rows read whole so far, for tests and metrics

    def refresh(self, session: Session, now: datetime, fresh: Iterable[JobRecord] = ()) -> None:
        """`fresh`: jobs this process committed since the last refresh, taken without reading them back."""
        if self._since is not None:
            self._take(fresh)
            count, total = self._catch_up(session, self._since)
            if count != len(self.pending) + len(self.active) or total != self._sum:
                self._since = None
        if self._since is None:
            self.pending, self.active, self._queue, self._sum = {}, {}, None, 0
            rows = job_cycle.in_states(session, LIVE, self.specs)
            self.note(rows)
            self.reloads += 1
            self.read += len(rows)
        self._since = now - self.margin
        self.specs.end_cycle()

    def queue(self) -> list[JobRecord]:
        """The pending jobs by id (the same list object while none changed: callers must not modify it)."""
        if self._queue is None:
            self._queue = sorted(self.pending.values(), key=lambda r: r.id)
        return self._queue

    def _take(self, fresh: Iterable[JobRecord]) -> None:
        """Jobs as committed by this process, unless the view holds them at that version or later
        (the stamps that follow drop or re-read any that changed since; the checksum checks the rest)."""
        held = [r for r in fresh if (known := self.pending.get(r.id) or self.active.get(r.id)) is None
                or known.version < r.version]  # fmt: skip
        self.note(held)

    def _catch_up(self, session: Session, since: datetime) -> tuple[int, int]:
        """Apply the changes since `since`; the live jobs' count and version sum as of the same read."""
        stale = []
        stamps, count, total = job_cycle.stamps_since(session, since, LIVE)
        for job_id, version, state in stamps:
            if state not in LIVE:
                self._drop(job_id)
                continue
            known = self.pending.get(job_id) or self.active.get(job_id)
            if known is None or known.version != version:
                stale.append(job_id)
        rows = job_cycle.by_ids(session, stale, self.specs)
        self.note(rows)
        self.read += len(rows)
        return count, total

    def note(self, rows: Iterable[JobRecord]) -> None:
        """Jobs as now stored (read, or written by this cycle and committed)."""
        for row in rows:
            self._drop(row.id)
            if row.state is JobState.PENDING:
                self.pending[row.id] = row
                self._queue = None
            elif row.state.value in LIVE:
                self.active[row.id] = row
            else:
                continue
            self._sum += row.version

    def _drop(self, job_id: str) -> None:
        old = self.pending.pop(job_id, None)
        if old is not None:
            self._queue = None
        else:
            old = self.active.pop(job_id, None)
        if old is not None:
            self._sum -= old.version

    def note_waits(self, waits: dict[str, tuple[str, str]]) -> None:
        """Wait reasons written without a new version: keep them, so unchanged ones are not rewritten."""
        for job_id, (code, message) in waits.items():
            job = self.pending.get(job_id)
            if job is not None and (job.wait_code, job.wait_message) != (code, message[:1000]):
                self.pending[job_id] = dataclasses.replace(job, wait_code=code, wait_message=message[:1000])
                self._queue = None

    def drop(self) -> None:
        self._since = None


class KeptState:
    """The scheduler core's `SchedulerState`, kept across cycles and fed the differences in running
    work (started, finished, stop requested: a job at another version); rebuilt when node health
    changes or after a failure."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.state: SchedulerState | None = None
        self._held: dict[str, tuple[int, RunningJob]] = {}  # job id -> (its version, what it holds)
        self._health: dict[str, HealthState] = {}
        self.rebuilds = 0

    def update(
        self, active: Iterable[JobRecord], hl: dict[str, HealthState], now: datetime, jobs: Callable[[JobRecord], Job]
    ) -> SchedulerState:
        """`active`: the jobs holding GPUs (those without GPU ids are skipped)."""
        held = self._held
        if self.state is None or hl != self._health:
            self._held = {r.id: (r.version, running_job(r, now, jobs)) for r in active if r.gpu_ids}
            self.state = SchedulerState(self.topology, (rj for _, rj in self._held.values()), hl)
            self._health = dict(hl)
            self.rebuilds += 1
            return self.state
        state, seen = self.state, set()
        for r in active:
            if not r.gpu_ids:
                continue
            seen.add(r.id)
            kept = held.get(r.id)
            if kept is not None and kept[0] == r.version:
                continue
            rj = running_job(r, now, jobs)
            if kept is not None:
                if kept[1] == rj:  # a new version holding the same (e.g. it started running)
                    held[r.id] = (r.version, kept[1])
                    continue
                state.apply_finished(r.id)  # a stop requested, another attempt: fed again
            state.apply_started(rj)
            held[r.id] = (r.version, rj)
        for job_id in held.keys() - seen:
            state.apply_finished(job_id)
            del held[job_id]
        return state

    def drop(self) -> None:
        self.state = None
