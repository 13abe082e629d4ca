"""Wiring: build the services the API needs from one `Settings` (migrate, load fleet, sync)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.crypto.backends import build_keys
from brique.crypto.keys import PlatformKeys
from brique.domain.fleet import ExecutorKind, Fleet
from brique.errors import InvalidInput
from brique.executors.base import Executor
from brique.executors.local.executor import LocalExecutor
from brique.executors.simulated import SimulatedExecutor
from brique.executors.slurm import SlurmConfig, SlurmExecutor
from brique.scheduler import Topology
from brique.services.agents import AgentService
from brique.services.audit import AuditLog, CheckpointTimer
from brique.services.billing import BillingService, load_pricebook
from brique.services.budgets import BudgetService
from brique.services.contracts import ContractService
from brique.services.evidence import EvidenceService
from brique.services.fleet import FleetService, load_fleet_file
from brique.services.jobs import JobService, Quotas
from brique.services.lockbox import Lockbox
from brique.services.metering import MeteringService, load_intensity
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
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
    sovereignty: Sovereignty
    fleet_written: bool
    startup_s: float
    metering: MeteringService | None = None
    billing: BillingService | None = None
    budgets: BudgetService | None = None

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
            out[site.id] = shared.setdefault(site.executor, LocalExecutor())
        else:
            raise InvalidInput(f"site {site.id}: the {site.executor.value} executor is not available yet",
                               field="executor")  # fmt: skip
    return out


@dataclass
class Sovereignty:
    signer: PlatformKeys
    audit: AuditLog
    lockbox: Lockbox
    secrets: SecretsService
    residency: ResidencyService
    evidence: EvidenceService
    checkpoints: CheckpointTimer


def build_sovereignty(settings: Settings, db: Database, clock: Clock, fleet: Fleet) -> Sovereignty:
    keys = build_keys(settings, clock.now())
    signer, kek = keys.signer, keys.kek
    audit = AuditLog(db, clock, signer, settings.audit_retention_days, settings.audit_head_path)
    return Sovereignty(
        signer=signer,
        audit=audit,
        lockbox=Lockbox(db, clock, audit),
        secrets=SecretsService(db, clock, kek, signer, audit),
        residency=ResidencyService(db, clock, fleet, audit),
        evidence=EvidenceService(db, clock, fleet, signer),
        checkpoints=CheckpointTimer(audit, settings.audit_checkpoint_s),
    )


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
    sov = build_sovereignty(settings, db, clock, fleet)
    scheduling = SchedulingService(
        db,
        clock,
        Topology.from_fleet(fleet),
        build_executors(fleet, clock),
        logs=logs,
        audit=sov.audit,
        secrets=sov.secrets.resolve,
    )
    agents = AgentService(db, clock, fleet, scheduling, logs, settings.agent_timeout_s)
    metering = MeteringService(db, clock, fleet, load_intensity(settings.grid_intensity_file))
    billing = BillingService(metering, load_pricebook(settings.pricebook_file))
    budgets = BudgetService(db, clock, billing, interval_s=settings.budget_interval_s,
                            allow_private_webhooks=settings.webhook_allow_private)  # fmt: skip
    loop = SchedulerLoop(scheduling, settings.cycle_interval_s,
                         housekeeping=[agents.expire, metering.collect, budgets.evaluate_if_due])  # fmt: skip
    quotas = Quotas(settings.submissions_per_minute, settings.submission_burst, settings.max_pending_jobs)
    jobs = JobService(db, clock, fleet, scheduling, logs, quotas, wake=loop.wake)
    jobs.admission.append(budgets.admission_check)
    jobs.residency, jobs.secrets, jobs.lockbox, jobs.audit = (
        sov.residency,
        sov.secrets,
        sov.lockbox,
        sov.audit,
    )
    loop.housekeeping += (sov.checkpoints.maybe_checkpoint,)
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
        sovereignty=sov,
        fleet_written=written,
        startup_s=time.perf_counter() - started,
        metering=metering,
        billing=billing,
        budgets=budgets,
    )
