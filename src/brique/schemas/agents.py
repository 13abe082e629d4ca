"""Wire models between `brique agent` (on a node) and the control plane."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from brique.domain.runs import Launch, RunReport, RunState
from brique.schemas.base import Int, StrictModel


class AgentRegisterRequest(StrictModel):
    node_id: str = Field(description="fleet node id this agent serves, e.g. lab-1/r001/n01")
    gpus: Int = Field(ge=0, description="GPUs discovered on the machine (NVML) or configured")
    hostname: str = Field(max_length=255)


class AgentRegisterResponse(BaseModel):
    node_id: str
    site: str
    gpus: int
    heartbeat_interval_s: float


class RunReportModel(StrictModel):
    job_id: str
    attempt: int
    state: RunState
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    image: str = Field(default="", max_length=2000)

    def to_domain(self) -> RunReport:
        return RunReport(
            self.job_id,
            self.attempt,
            self.state,
            self.exit_code,
            self.started_at,
            self.finished_at,
            self.message,
            self.image,
        )

    @classmethod
    def from_domain(cls, r: RunReport) -> RunReportModel:
        return cls(
            job_id=r.job_id,
            attempt=r.attempt,
            state=r.state,
            exit_code=r.exit_code,
            started_at=r.started_at,
            finished_at=r.finished_at,
            message=r.message,
            image=r.image,
        )


class LogChunk(StrictModel):
    nul_allowed = frozenset({"data"})  # a job's output is whatever it printed
    job_id: str
    attempt: int
    offset: Int = Field(ge=0)
    data: str = Field(description="UTF-8 text (invalid bytes replaced)")


class HeartbeatRequest(StrictModel):
    node_id: str
    reports: list[RunReportModel] = Field(default_factory=list)
    logs: list[LogChunk] = Field(default_factory=list)


class LaunchModel(BaseModel):
    job_id: str
    attempt: int
    name: str
    org_id: str
    project_id: str
    site_id: str
    tier: str
    command: str
    gpus_by_node: dict[str, list[int]]
    env: dict[str, str]
    image: str | None = None
    max_runtime_s: float
    grace_s: float
    serves: bool = False

    @classmethod
    def from_domain(cls, x: Launch) -> LaunchModel:
        return cls(
            job_id=x.job_id,
            attempt=x.attempt,
            name=x.name,
            org_id=x.org_id,
            project_id=x.project_id,
            site_id=x.site_id,
            tier=x.tier,
            command=x.command,
            gpus_by_node={k: list(v) for k, v in x.gpus_by_node.items()},
            env=dict(x.env),
            image=x.image,
            max_runtime_s=x.max_runtime_s,
            grace_s=x.grace_s,
            serves=x.serves,
        )

    def to_domain(self) -> Launch:
        return Launch(
            job_id=self.job_id,
            attempt=self.attempt,
            name=self.name,
            org_id=self.org_id,
            project_id=self.project_id,
            site_id=self.site_id,
            tier=self.tier,
            command=self.command,
            gpus_by_node={k: tuple(v) for k, v in self.gpus_by_node.items()},
            env=self.env,
            image=self.image,
            max_runtime_s=self.max_runtime_s,
            grace_s=self.grace_s,
            serves=self.serves,
        )


class StopOrder(BaseModel):
    job_id: str
    attempt: int
    grace_s: float


class AttemptRef(BaseModel):
    job_id: str
    attempt: int


class HeartbeatResponse(BaseModel):
    start: list[LaunchModel] = Field(default_factory=list)
    stop: list[StopOrder] = Field(default_factory=list)
    forget: list[AttemptRef] = Field(default_factory=list, description="finished attempts now recorded")
