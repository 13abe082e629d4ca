"""Wire models for project governance: quota, weight, guaranteed share, members and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from brique.domain.projects import ProjectView
from brique.schemas.base import Float, Int, StrictModel


class ProjectGovernanceRequest(StrictModel):
    max_gpus: Int | None = Field(default=None, ge=0, le=1_000_000, description="most GPUs held at once (none: no quota)")
    weight: Float = Field(default=1.0, gt=0, le=1000, description="fair-share weight among the org's projects")
    guaranteed_gpus: Int = Field(default=0, ge=0, le=1_000_000, description="share of the org's contract guarantee")


class ProjectMemberRequest(StrictModel):
    user_id: str = Field(max_length=40)
    role: Literal["project-admin", "member", "viewer"]


class ProjectMemberResponse(BaseModel):
    user_id: str
    role: str
    added_at: datetime


class ProjectGovernanceResponse(BaseModel):
    project_id: str
    project: str
    org_id: str
    max_gpus: int | None
    weight: float
    guaranteed_gpus: int
    members: list[ProjectMemberResponse]

    @classmethod
    def from_view(cls, v: ProjectView) -> ProjectGovernanceResponse:
        g = v.governance
        members = [ProjectMemberResponse(user_id=m.user_id, role=m.role.value, added_at=m.added_at) for m in v.members]
        return cls(project_id=v.project.id, project=v.project.name, org_id=g.org_id, max_gpus=g.max_gpus,
                   weight=g.weight, guaranteed_gpus=g.guaranteed_gpus, members=members)  # fmt: skip
