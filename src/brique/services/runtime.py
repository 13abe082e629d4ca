"""Wiring: build the services the API needs from one `Settings` (migrate, load fleet, sync)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.domain.fleet import ExecutorKind, Fleet
from brique.errors import InvalidInput
from brique.executors.agents import AgentExecutor
from brique.executors.base import Executor
from brique.executors.simulated import SimulatedExecutor
from brique.executors.slurm import SlurmConfig, SlurmExecutor
from brique.scheduler import Topology
from brique.services.agents import AgentService
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
    agents: AgentService
    loop: SchedulerLoop
    fleet_written: bool
    startup_s: float

    def close(self) -> None:
        self.loop.stop()
        for executor in {id(e): e for e in self.scheduling.executors.values()}.values():
            executor.close()
        self.db.dispose()


def build_executors(fleet: Fleet, clock: Clock) -> dict[str, Executor]:
    """Simulated and local sites share one executor each; every Slurm site is its own cluster."""
    shared: dict[ExecutorKind, Executor] = {}
    out: dict[str, Executor] = {}
    for site in fleet.sites:
        if site.executor is ExecutorKind.SLURM:
            out[site.id] = SlurmExecutor(SlurmConfig.from_mapping(site.executor_options), clock=clock)
        elif site.executor is ExecutorKind.SIMULATED:
            out[site.id] = shared.setdefault(site.executor, SimulatedExecutor(clock))
        elif site.executor is ExecutorKind.LOCAL:
            out[site.id] = shared.setdefault(site.executor, AgentExecutor())
        else:
            raise InvalidInput(f"site {site.id}: the {site.executor.value} executor is not available yet",
                               field="executor")  # fmt: skip
    return out


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
    agents = AgentService(db, clock, fleet, scheduling, logs, settings.agent_timeout_s)
    loop = SchedulerLoop(scheduling, settings.cycle_interval_s, housekeeping=[agents.expire])
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
        agents=agents,
        loop=loop,
        fleet_written=written,
        startup_s=time.perf_counter() - started,
    )
