"""Projects as a governance unit inside an org: GPU quota, fair-share weight, guaranteed share of
the org's contract, and project roles.

A project without members is open to every member of its org (as before); once it has members,
only its project-admins and members may submit to it, viewers may only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from brique.domain.tenancy import Project


class ProjectRole(StrEnum):
    PROJECT_ADMIN = "project-admin"  # manages the project's members and quota
    MEMBER = "member"  # submits jobs
    VIEWER = "viewer"  # reads jobs and usage

    @property
    def may_submit(self) -> bool:
        return self is not ProjectRole.VIEWER


@dataclass(frozen=True, slots=True)
class ProjectGovernance:
    project_id: str
    org_id: str
    max_gpus: int | None = None  # most GPUs its jobs may hold at once (None: no quota)
    weight: float = 1.0  # fair-share weight among the org's projects
    guaranteed_gpus: int = 0  # share of the org's contract guarantee set aside for it

    def __post_init__(self) -> None:
        if self.max_gpus is not None and self.max_gpus < 0:
            raise ValueError("max_gpus must be >= 0")
        if self.weight <= 0:
            raise ValueError("weight must be > 0")
        if self.guaranteed_gpus < 0:
            raise ValueError("guaranteed_gpus must be >= 0")
        if self.max_gpus is not None and self.guaranteed_gpus > self.max_gpus:
            raise ValueError("guaranteed_gpus cannot exceed max_gpus")


@dataclass(frozen=True, slots=True)
class ProjectMember:
    project_id: str
    user_id: str
    role: ProjectRole
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectView:
    project: Project
    governance: ProjectGovernance
    members: tuple[ProjectMember, ...]


def guarantee_problem(shares: dict[str, int], org_guarantee: int) -> str | None:
    """Why the projects' guaranteed shares do not fit the org's contract (None: they do)."""
    total = sum(shares.values())
    if total > org_guarantee:
        return f"the projects' guaranteed shares total {total} GPUs; the org's contract guarantees {org_guarantee}"
    return None
