"""Wire models for deployments (the `brique deploy` file), their replicas and gateway keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from brique.domain.inference import BUILTIN_RUNTIMES, Deployment, InferenceKey
from brique.domain.jobs import Tier
from brique.schemas.base import Float, Int, StrictModel
from brique.schemas.jobs import NAME
from brique.schemas.sovereignty import PolicyModel


class ReplicasModel(StrictModel):
    min: Int = Field(default=1, ge=0, le=1_000, description="0: scales to zero when idle (not for priority)")
    max: Int = Field(default=1, ge=1, le=1_000)


class DeploymentRequest(StrictModel):
    """A deployment file (YAML or JSON): a model served by replicas placed by the scheduler."""

    name: str = Field(description="letters, digits, '.', '_', '-' (1-100); the `model` clients ask for")
    project: str = Field(max_length=100)
    model: str = Field(min_length=1, max_length=200, description="model id or registered artifact")
    runtime: str = Field(default="vllm", description=f"one of {', '.join(BUILTIN_RUNTIMES)}")
    gpus: Int = Field(default=1, ge=1, le=72, description="GPUs per replica")
    replicas: ReplicasModel = Field(default_factory=ReplicasModel)
    tier: Tier = Tier.STANDARD
    placement: PolicyModel = Field(default_factory=PolicyModel)
    command: str | None = Field(default=None, max_length=10_000, description="runtime custom: listens on "
                                "$BRIQUE_REPLICA_PORT")  # fmt: skip
    image: str | None = Field(default=None, max_length=500)
    target_inflight: Int = Field(default=4, ge=1, le=10_000, description="in-flight requests per replica")
    idle_s: Float = Field(default=300.0, ge=10, le=86_400, description="idle time before scaling to zero")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return v

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, v: str) -> str:
        if v not in BUILTIN_RUNTIMES:
            raise ValueError(f"unknown runtime '{v}'; one of {', '.join(BUILTIN_RUNTIMES)}")
        return v


class ScaleRequest(StrictModel):
    min: Int = Field(ge=0, le=1_000)
    max: Int = Field(ge=1, le=1_000)


class ReplicaResponse(BaseModel):
    job_id: str
    state: str
    site_id: str | None
    gpu_ids: list[str]
    port: int
    created_at: datetime


class DeploymentResponse(BaseModel):
    id: str
    name: str
    org_id: str
    project_id: str
    model: str
    runtime: str
    gpus: int
    min_replicas: int
    max_replicas: int
    desired_replicas: int
    tier: Tier
    placement: PolicyModel
    state: str
    created_at: datetime
    updated_at: datetime
    replicas: list[ReplicaResponse] = Field(default_factory=list)

    @classmethod
    def from_domain(cls, d: Deployment, replicas: list[ReplicaResponse] | None = None) -> DeploymentResponse:
        return cls(id=d.id, name=d.name, org_id=d.org_id, project_id=d.project_id, model=d.model,
                   runtime=d.runtime, gpus=d.gpus, min_replicas=d.min_replicas, max_replicas=d.max_replicas,
                   desired_replicas=d.desired_replicas, tier=d.tier, placement=PolicyModel.from_domain(d.placement),
                   state=d.state.value, created_at=d.created_at, updated_at=d.updated_at,
                   replicas=replicas or [])  # fmt: skip


class InferenceKeyRequest(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    deployments: list[str] = Field(default_factory=list, max_length=100, description="empty: all of the org's")
    requests_per_min: Int | None = Field(default=None, ge=1, le=10_000_000)
    tokens_per_min: Int | None = Field(default=None, ge=1, le=10_000_000_000)


class InferenceKeyResponse(BaseModel):
    id: str
    name: str
    org_id: str
    deployments: list[str]
    requests_per_min: int | None
    tokens_per_min: int | None
    created_at: datetime
    revoked_at: datetime | None
    token: str | None = Field(default=None, description="shown once, at creation")

    @classmethod
    def from_domain(cls, k: InferenceKey, token: str | None = None) -> InferenceKeyResponse:
        return cls(id=k.id, name=k.name, org_id=k.org_id, deployments=list(k.deployments),
                   requests_per_min=k.requests_per_min, tokens_per_min=k.tokens_per_min, created_at=k.created_at,
                   revoked_at=k.revoked_at, token=token)  # fmt: skip
