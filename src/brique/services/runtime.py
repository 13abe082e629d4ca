"""Wiring: build the services the API needs from one `Settings` (migrate, load fleet, sync)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.domain.fleet import ExecutorKind, Fleet
from brique.executors.agents import AgentExecutor
from brique.executors.base import Executor
from brique.executors.simulated import SimulatedExecutor
from brique.scheduler import Topology
from brique.services.contracts import ContractService
from brique.services.fleet import FleetService, load_fleet_file
from brique.services.jobs import JobService, Quotas
from brique.services.scheduling import SchedulingService
from brique.services.tenancy import TenancyService
from brique.store.db import Database, migrate
from brique.store.logs import LogArchive
from brique.workers.scheduler_loop import SchedulerLoop


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    fleet: FleetService
    tenancy: TenancyService
    contracts: ContractService
    scheduling: SchedulingService
    jobs: JobService
    loop: SchedulerLoop
    fleet_written: bool
    startup_s: float

    def close(self) -> None:
        self.loop.stop()
        for executor in {id(e): e for e in self.scheduling.executors.values()}.values():
            executor.close()
        self.db.dispose()


def build_executors(fleet: Fleet, clock: Clock) -> dict[str, Executor]:
    """One executor per kind, shared by the sites of that kind."""
    by_kind: dict[ExecutorKind, Executor] = {}
    out: dict[str, Executor] = {}
    for site in fleet.sites:
        if site.executor not in by_kind:
            by_kind[site.executor] = _make_executor(site.executor, clock)
        out[site.id] = by_kind[site.executor]
    return out


def _make_executor(kind: ExecutorKind, clock: Clock) -> Executor:
    if kind is ExecutorKind.SIMULATED:
        return SimulatedExecutor(clock)
    if kind is ExecutorKind.LOCAL:
        return AgentExecutor()
    raise NotImplementedError(f"the {kind.value} executor is not available in this build")


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    started = time.perf_counter()
    clock = clock or SystemClock()
    fleet = load_fleet_file(settings.fleet_file)
    db = Database(settings.database_url)
    try:
        migrate(db.engine)
        fleet_service = FleetService(db, clock, fleet)
        written = fleet_service.sync(str(settings.fleet_file))
    except Exception:
        db.dispose()
        raise
    logs = LogArchive(settings.logs_dir)
    scheduling = SchedulingService(
        db, clock, Topology.from_fleet(fleet), build_executors(fleet, clock), logs=logs
    )
    loop = SchedulerLoop(scheduling, settings.cycle_interval_s)
    quotas = Quotas(settings.submissions_per_minute, settings.submission_burst, settings.max_pending_jobs)
    jobs = JobService(db, clock, fleet, scheduling, logs, quotas, wake=loop.wake)
    return Runtime(
        settings=settings,
        db=db,
        clock=clock,
        fleet=fleet_service,
        tenancy=TenancyService(db, clock),
        contracts=ContractService(db, clock, fleet),
        scheduling=scheduling,
        jobs=jobs,
        loop=loop,
        fleet_written=written,
        startup_s=time.perf_counter() - started,
    )
