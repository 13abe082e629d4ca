"""Wiring: build the adapters, the services and the scheduling loop from one `Settings`.

Order matters only where one service is another's input; every service is constructed with
everything it needs (none is patched after construction).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from functools import partial

from brique.clock import Clock, SystemClock
from brique.config import Settings
from brique.crypto.backends import build_keys
from brique.domain.fleet import ExecutorKind, Fleet
from brique.errors import InvalidInput
from brique.executors.base import Executor
from brique.executors.local.executor import LocalExecutor
from brique.executors.simulated import SimulatedExecutor
from brique.executors.slurm import SlurmConfig, SlurmExecutor
from brique.ids import new_id
from brique.scheduler import Topology
from brique.services.agents import AgentService
from brique.services.audit import AuditLog, CheckpointTimer
from brique.services.billing import BillingService, load_pricebook
from brique.services.budgets import BudgetService
from brique.services.contracts import ContractService
from brique.services.evidence import EvidenceService
from brique.services.fleet import FleetService, load_fleet_file
from brique.services.health import HealthService
from brique.services.inference.deployments import DeploymentService
from brique.services.inference.gateway import GatewayState, Limits
from brique.services.inference.replicas import RuntimeConfig
from brique.services.inference.usage import TokenMeter
from brique.services.invoicing import InvoicingService
from brique.services.jobs import JobService, Quotas
from brique.services.key_cache import KeyCache
from brique.services.lockbox import Lockbox
from brique.services.metering import MeteringService, load_intensity
from brique.services.projects import ProjectGovernanceService
from brique.services.registry import Inference, Services, Sovereignty
from brique.services.replicas import build_leadership
from brique.services.reservations import ReservationService
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
from brique.services.stop_relay import StopRelay
from brique.services.tenancy import TenancyService
from brique.store.coordination import startup_lock
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
    db = Database(settings.database_url, settings.sqlite_synchronous)
    try:
        with startup_lock(db.url):  # replicas starting together migrate one at a time
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
    token_meter = TokenMeter(db)
    billing = BillingService(metering, load_pricebook(settings.pricebook_file), token_meter.charges)
    budgets = BudgetService(db, clock, billing, interval_s=settings.budget_interval_s,
                            allow_private_webhooks=settings.webhook_allow_private)  # fmt: skip
    leadership = build_leadership(db, clock, settings.replica_id or new_id("rep", 10))
    relay = [StopRelay(db, clock, scheduling).relay] if leadership.shared else []  # stops asked on followers
    loop = SchedulerLoop(scheduling, settings.cycle_interval_s,
                         housekeeping=[agents.expire, partial(metering.collect, max_batches=1), budgets.evaluate_if_due,
                                       sov.checkpoints.maybe_checkpoint], leadership=leadership,
                         every_round=relay)  # fmt: skip
    projects = ProjectGovernanceService(db, clock, sov.audit)
    quotas = Quotas(settings.submissions_per_minute, settings.submission_burst, settings.max_pending_jobs)
    jobs = JobService(db, clock, fleet, scheduling, logs, residency=sov.residency, secrets=sov.secrets,
                      lockbox=sov.lockbox, audit=sov.audit, quotas=quotas,
                      admission=[budgets.admission_check, projects.admission_check],
                      wake=loop.request_cycle, notify=budgets.notify,
                      gather_s=settings.submit_gather_ms / 1000)  # fmt: skip
    tenancy = TenancyService(db, clock, audit=sov.audit, keys=KeyCache(settings.auth_cache_s))
    services = Services(
        health=HealthService(db, fleet), fleet=fleet_service, tenancy=tenancy,
        contracts=ContractService(db, clock, fleet, sov.audit), scheduling=scheduling, jobs=jobs, agents=agents,
        metering=metering, billing=billing, budgets=budgets, sovereignty=sov, replicas=leadership,
        inference=build_inference(settings, db, clock, jobs, sov.audit, tenancy, token_meter),
        reservations=ReservationService(db, clock, fleet, sov.audit), projects=projects,
        invoicing=InvoicingService(db, clock, billing, fleet),
    )  # fmt: skip
    return services, loop


def build_inference(
    settings: Settings, db: Database, clock: Clock, jobs: JobService, audit: AuditLog, tenancy: TenancyService,
    meter: TokenMeter,
) -> Inference:
    runtime = RuntimeConfig(settings.inference_python or sys.executable, settings.inference_replica_host)
    limits = Limits(settings.inference_org_requests_per_min, settings.inference_org_tokens_per_min)
    return Inference(
        deployments=DeploymentService(db, clock, jobs, audit, runtime, tenancy.authenticate),
        gateway=GatewayState(limits), meter=meter, cold_start_s=settings.inference_cold_start_s,
        max_request_bytes=settings.inference_max_request_bytes, interval_s=settings.inference_interval_s,
    )  # fmt: skip
