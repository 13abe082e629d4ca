"""Keyword factories for simulator tests: tiny fleets and traces built in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brique.domain.contracts import Contract, ContractBook
from brique.domain.fleet import Fleet
from brique.domain.fleet_spec import parse_fleet
from brique.domain.jobs import Tier
from brique.simulator.engine import JobRecord, Run, SimConfig
from brique.simulator.metrics import summarise
from brique.simulator.policies import POLICIES
from brique.simulator.run import simulate_trace
from brique.simulator.traces import Trace, TraceJob

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "data"


def make_fleet(racks: int = 1, nodes: int = 18, gpus: int = 4) -> Fleet:
    site = {
        "id": "fr-1", "country": "FR", "operator": {"name": "Ex SAS", "country": "FR"}, "pue": 1.2,
        "grid_gco2e_per_kwh": 50,
        "racks": [{"count": racks, "nodes_per_rack": nodes, "gpus_per_node": gpus, "gpu_model": "GB200",
                   "gpu_power_w": 1200}],
    }  # fmt: skip
    return parse_fleet({"name": "test", "sites": [site]})


def job(jid: str, submit: float, duration: float, gpus: int = 1, tenant: str = "default",
        tier: str = "standard", est: float | None = None) -> TraceJob:  # fmt: skip
    return TraceJob(jid, submit, duration, gpus, tenant, Tier(tier), est)


def trace(*jobs: TraceJob) -> Trace:
    return Trace("test", tuple(sorted(jobs, key=lambda j: j.submit_s)))


def book(**guarantees: int) -> ContractBook:
    return ContractBook.of(Contract(tenant=t, guaranteed_gpus=g) for t, g in guarantees.items())


def run(tr: Trace, fleet: Fleet, policy: str, contracts: ContractBook | None = None, **cfg: Any) -> Run:
    return simulate_trace(tr, fleet, [POLICIES[policy]], contracts, SimConfig(**cfg))[0]


def by_id(r: Run) -> dict[str, JobRecord]:
    return {j.id: rec for j, rec in zip(r.trace.jobs, r.records, strict=True)}


def jct(r: Run) -> dict[str, float]:
    return {
        j.id: rec.end - j.submit_s for j, rec in zip(r.trace.jobs, r.records, strict=True) if rec.end >= 0
    }


def queue(r: Run) -> dict[str, float]:
    return {j.id: rec.first_start - j.submit_s for j, rec in zip(r.trace.jobs, r.records, strict=True)
            if rec.first_start >= 0}  # fmt: skip


def metrics(r: Run) -> dict[str, Any]:
    return summarise(r)
