"""Wiring: build the adapters, the services and the scheduling loop from one `Settings`.

Order matters only where one service is another's input; every service is constructed with
everything it needs (none is patched after construction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.crypto.envelope import KeyEncryptionKey
from brique.crypto.signing import Signer
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
from brique.services.health import HealthService
from brique.services.jobs import JobService, Quotas
from brique.services.lockbox import Lockbox
from brique.services.metering import MeteringService, load_intensity
from brique.services.registry import Services, Sovereignty
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
from brique.services.tenancy import TenancyService
from brique.store.db import Database, migrate
from brique.store.logs import LogArchive
from brique.workers.scheduler_loop import SchedulerLoop


@dataclass
class Runtime:
    """A built control plane: its services, its scheduling loop and what it needs to shut down."""

    settings: Settings
    db: Database
    clock: Clock
    services: Services
    loop: SchedulerLoop
    fleet_written: bool
    startup_s: float

    def close(self) -> None:
        self.loop.stop()
        for executor in {id(e): e for e in self.services.scheduling.executors.values()}.values():
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


def build_sovereignty(settings: Settings, db: Database, clock: Clock, fleet: Fleet) -> Sovereignty:
    signer = Signer.from_file(settings.signing_key_path)
    audit = AuditLog(db, clock, signer, settings.audit_retention_days)
    kek = KeyEncryptionKey.load(settings.kek, settings.kek_path)
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
        services, loop = build_services(settings, db, clock, fleet, fleet_service)
    except Exception:
        db.dispose()
        raise
    return Runtime(settings=settings, db=db, clock=clock, services=services, loop=loop, fleet_written=written,
                   startup_s=time.perf_counter() - started)  # fmt: skip


def build_services(
    settings: Settings, db: Database, clock: Clock, fleet: Fleet, fleet_service: FleetService
) -> tuple[Services, SchedulerLoop]:
    logs = LogArchive(settings.logs_dir)
    sov = build_sovereignty(settings, db, clock, fleet)
    scheduling = SchedulingService(db, clock, Topology.from_fleet(fleet), build_executors(fleet, clock),
                                   secrets=sov.secrets.resolve, logs=logs, audit=sov.audit)  # fmt: skip
    agents = AgentService(db, clock, fleet, scheduling, logs, settings.agent_timeout_s)
    metering = MeteringService(db, clock, fleet, load_intensity(settings.grid_intensity_file))
    billing = BillingService(metering, load_pricebook(settings.pricebook_file))
    budgets = BudgetService(db, clock, billing, interval_s=settings.budget_interval_s,
                            allow_private_webhooks=settings.webhook_allow_private)  # fmt: skip
    loop = SchedulerLoop(scheduling, settings.cycle_interval_s,
                         housekeeping=[agents.expire, metering.collect, budgets.evaluate_if_due,
                                       sov.checkpoints.maybe_checkpoint])  # fmt: skip
    quotas = Quotas(settings.submissions_per_minute, settings.submission_burst, settings.max_pending_jobs)
    jobs = JobService(db, clock, fleet, scheduling, logs, residency=sov.residency, secrets=sov.secrets,
                      lockbox=sov.lockbox, audit=sov.audit, quotas=quotas, admission=[budgets.admission_check],
                      wake=loop.wake)  # fmt: skip
    services = Services(
        health=HealthService(db, fleet), fleet=fleet_service, tenancy=TenancyService(db, clock, auth_cache_s=settings.auth_cache_s),
        contracts=ContractService(db, clock, fleet), scheduling=scheduling, jobs=jobs, agents=agents,
        metering=metering, billing=billing, budgets=budgets, sovereignty=sov,
    )  # fmt: skip
    return services, loop
