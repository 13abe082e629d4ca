"""The services a running control plane offers, each constructed with everything it needs.

The composition root (`brique/server/runtime.py`) builds one `Services`; interfaces (API,
workers) receive it and never construct or patch services themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from brique.crypto.keys import PlatformKeys
from brique.services.agents import AgentService
from brique.services.audit import AuditLog, CheckpointTimer
from brique.services.billing import BillingService
from brique.services.budgets import BudgetService
from brique.services.contracts import ContractService
from brique.services.evidence import EvidenceService
from brique.services.fleet import FleetService
from brique.services.health import HealthService
from brique.services.inference.deployments import DeploymentService
from brique.services.inference.gateway import GatewayState
from brique.services.inference.usage import TokenMeter
from brique.services.invoicing import InvoicingService
from brique.services.jobs import JobService
from brique.services.lockbox import Lockbox
from brique.services.metering import MeteringService
from brique.services.projects import ProjectGovernanceService
from brique.services.replicas import Leadership
from brique.services.reservations import ReservationService
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
from brique.services.tenancy import TenancyService


@dataclass(frozen=True, slots=True)
class Sovereignty:
    signer: PlatformKeys
    audit: AuditLog
    lockbox: Lockbox
    secrets: SecretsService
    residency: ResidencyService
    evidence: EvidenceService
    checkpoints: CheckpointTimer


@dataclass(frozen=True, slots=True)
class Inference:
    deployments: DeploymentService
    gateway: GatewayState
    meter: TokenMeter
    cold_start_s: float
    max_request_bytes: int
    interval_s: float


@dataclass(frozen=True, slots=True)
class Services:
    health: HealthService
    fleet: FleetService
    tenancy: TenancyService
    contracts: ContractService
    scheduling: SchedulingService
    jobs: JobService
    agents: AgentService
    metering: MeteringService
    billing: BillingService
    budgets: BudgetService
    sovereignty: Sovereignty
    replicas: Leadership
    inference: Inference
    reservations: ReservationService
    projects: ProjectGovernanceService
    invoicing: InvoicingService
