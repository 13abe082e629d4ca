"""`brique up --demo`: example tenants with contracts, and a live stream of jobs from a real trace.

The tenants are fictitious but typical of a sovereign GPU cloud's customers. Their jobs are
replayed from a public GPU-cluster trace (Philly by default, see data/traces/*/SOURCE.md):
each trace tenant is dealt to one demo org by a stable hash, durations are divided by
`duration_scale` (a 1 h job runs 1 min) and arrivals by `duration_scale * load`, so `load`
multiplies the trace's original demand to fill an 18,000-GPU fleet.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from brique.domain.contracts import Contract
from brique.domain.job_lifecycle import JobSpec
from brique.domain.jobs import Tier
from brique.domain.policy import PlacementPolicy
from brique.domain.tenancy import Principal
from brique.errors import Conflict
from brique.services.contracts import ContractService
from brique.services.tenancy import TenancyService
from brique.simulator.traces import Trace, TraceJob


@dataclass(frozen=True, slots=True)
class DemoTenant:
    name: str
    display_name: str
    country: str
    guaranteed_gpus: int
    weight: float
    placement: PlacementPolicy


DEMO_TENANTS = (
    DemoTenant("ministere-defense", "Ministère (défense)", "FR", 2304, 3.0,
               PlacementPolicy(countries={"FR"}, certifications={"secnumcloud"}, name="FR + SecNumCloud")),
    DemoTenant("banque-europa", "Banque Europa", "FR", 1152, 2.0, PlacementPolicy(eu_only=True, name="EU only")),
    DemoTenant("telco-nord", "Telco Nord", "SE", 576, 1.0, PlacementPolicy(countries={"SE"}, name="SE only")),
    DemoTenant("labo-ia", "Laboratoire IA", "DE", 0, 1.0, PlacementPolicy(countries={"DE"}, name="DE only")),
)  # fmt: skip
PROJECT = "training"


def seed_demo(
    tenancy: TenancyService, contracts: ContractService, admin: Principal, keys_file: Path
) -> dict[str, str]:
    """Create the demo orgs (once), their projects and contracts; return org name -> tenant-admin key."""
    keys: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    for t in DEMO_TENANTS:
        if t.name not in keys:
            try:
                new = tenancy.create_org(admin, t.name, t.display_name, t.country, f"admin@{t.name}.example")
            except Conflict:
                continue  # created by hand earlier; its key is not ours to know
            assert new.admin_key is not None
            keys[t.name] = new.admin_key.token
            tenant = tenancy.authenticate(new.admin_key.token)
            tenancy.create_project(tenant, t.name, PROJECT, "jobs replayed from a public trace")
        contracts.replace(
            admin, t.name, [Contract(tenant=t.name, guaranteed_gpus=t.guaranteed_gpus, weight=t.weight)]
        )
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh, indent=2)
    return keys


def demo_tenant_of(trace_tenant: str) -> DemoTenant:
    digest = hashlib.sha256(trace_tenant.encode()).digest()
    return DEMO_TENANTS[digest[0] % len(DEMO_TENANTS)]


def demo_spec(job: TraceJob, duration_scale: float, trace_name: str) -> tuple[str, JobSpec]:
    """The org a trace job goes to, and the job as that org submits it."""
    tenant = demo_tenant_of(job.tenant)
    runtime = max(5.0, job.duration_s / duration_scale)
    spec = JobSpec(
        name=job.id[:100], project=PROJECT, command=f"train --replay {trace_name}:{job.id}", gpus=job.gpus,
        tier=job.tier, placement=tenant.placement, estimated_runtime_s=runtime, max_runtime_s=runtime * 2 + 60,
        grace_s=5.0, retries=2 if job.tier is Tier.PREEMPTIBLE else 0, sleep_s=runtime,
        labels={"trace": trace_name, "trace_tenant": job.tenant},
    )  # fmt: skip
    return tenant.name, spec


def busy_part(trace: Trace) -> Trace:
    """Skip the trace's quiet start (the first 5% of its jobs), so the demo is busy at once."""
    return Trace(trace.name, trace.jobs[len(trace.jobs) // 20 :], trace.skipped)


def demo_clock_offsets(jobs: tuple[TraceJob, ...], duration_scale: float, load: float) -> list[float]:
    """Seconds after the demo starts at which each job is submitted."""
    if not jobs:
        return []
    start = jobs[0].submit_s
    return [(j.submit_s - start) / (duration_scale * load) for j in jobs]


__all__ = ["DEMO_TENANTS", "busy_part", "demo_clock_offsets", "demo_spec", "demo_tenant_of", "seed_demo"]
