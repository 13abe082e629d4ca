"""Wire models for fleet reads."""

from __future__ import annotations

from pydantic import BaseModel, Field

from brique.domain.fleet import HealthState, Site
from brique.schemas.base import StrictModel


class OperatorInfo(BaseModel):
    name: str
    country: str


class SiteResponse(BaseModel):
    id: str
    name: str
    region: str
    country: str
    jurisdiction: str
    operator: OperatorInfo
    certifications: list[str]
    pue: float
    grid_gco2e_per_kwh: float
    executor: str
    racks: int
    nodes: int
    gpus: int

    @classmethod
    def from_domain(cls, site: Site) -> SiteResponse:
        return cls(
            id=site.id, name=site.name, region=site.region, country=site.country,
            jurisdiction=site.jurisdiction,
            operator=OperatorInfo(name=site.operator.name, country=site.operator.country),
            certifications=sorted(site.certifications), pue=site.pue,
            grid_gco2e_per_kwh=site.grid_gco2e_per_kwh, executor=site.executor.value,
            racks=len(site.racks), nodes=site.node_count, gpus=site.gpu_count,
        )  # fmt: skip


class StateCounts(BaseModel):
    up: int = 0
    draining: int = 0
    down: int = 0


class SiteCapacityResponse(BaseModel):
    site: str
    country: str
    racks: int
    nodes: StateCounts
    gpus: StateCounts
    gpus_allocated: int = Field(default=0, description="GPUs held by scheduled or running jobs")
    gpus_reserved: int = Field(default=0, description="GPUs held now by approved capacity reservations")


class CapacityResponse(BaseModel):
    fleet: str
    total_racks: int
    total_nodes: int
    total_gpus: int
    gpus: StateCounts
    gpus_allocated: int = 0
    gpus_reserved: int = 0
    sites: list[SiteCapacityResponse]


class RackResponse(BaseModel):
    id: str
    site: str
    index: int
    gpu_model: str
    gpu_power_w: float
    nodes: StateCounts
    gpus: StateCounts


class NodeResponse(BaseModel):
    id: str
    rack: str
    site: str
    index: int
    cpus: int
    gpus: int
    gpus_not_up: int
    state: HealthState
    state_reason: str | None = None


class NodeStateRequest(StrictModel):
    state: HealthState
    reason: str | None = Field(default=None, max_length=500)
