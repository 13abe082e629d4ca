"""Project governance: quota, fair-share weight, guaranteed share, members and their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from brique.api.deps import Caller, services
from brique.schemas.projects import ProjectGovernanceRequest, ProjectGovernanceResponse, ProjectMemberRequest
from brique.services.projects import ProjectGovernanceService

router = APIRouter(prefix="/v1/orgs", tags=["projects"])


def project_service(request: Request) -> ProjectGovernanceService:
    return services(request).projects


Projects = Annotated[ProjectGovernanceService, Depends(project_service)]
Out = ProjectGovernanceResponse


@router.get("/{org}/projects/{project}/governance", operation_id="getProjectGovernance")
def get_governance(org: str, project: str, who: Caller, svc: Projects) -> Out:
    return Out.from_view(svc.get(who, org, project))


@router.put("/{org}/projects/{project}/governance", operation_id="setProjectGovernance")
def set_governance(org: str, project: str, body: ProjectGovernanceRequest, who: Caller, svc: Projects) -> Out:
    return Out.from_view(svc.set_governance(who, org, project, body.max_gpus, body.weight, body.guaranteed_gpus))


@router.put("/{org}/projects/{project}/members", operation_id="setProjectMember")
def set_member(org: str, project: str, body: ProjectMemberRequest, who: Caller, svc: Projects) -> Out:
    return Out.from_view(svc.set_member(who, org, project, body.user_id, body.role))


@router.delete("/{org}/projects/{project}/members/{user_id}", operation_id="removeProjectMember")
def remove_member(org: str, project: str, user_id: str, who: Caller, svc: Projects) -> Out:
    return Out.from_view(svc.remove_member(who, org, project, user_id))
