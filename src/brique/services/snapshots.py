"""Build the scheduler's input from the store: job records -> core jobs, health, usage, contracts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from brique.domain.contracts import ContractBook
from brique.domain.fleet import HealthState
from brique.domain.job_records import JobRecord
from brique.domain.jobs import Job, RunningJob
from brique.scheduler import ClusterSnapshot, Topology, decay_usage
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import fleet as fleet_repo
from brique.store.repos import jobs as repo


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
