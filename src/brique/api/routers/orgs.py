"""Organizations (tenants), their projects and users."""

from __future__ import annotations

from fastapi import APIRouter, status

from brique.api.deps import Caller, Tenancy
from brique.schemas.tenancy import (
    KeyCreatedResponse,
    OrgCreatedResponse,
    OrgCreateRequest,
    OrgResponse,
    OrgResumeRequest,
    OrgSuspendRequest,
    ProjectCreateRequest,
    ProjectResponse,
    UserCreateRequest,
    UserResponse,
)

router = APIRouter(prefix="/v1/orgs", tags=["tenancy"])


@router.post("", operation_id="createOrg", status_code=status.HTTP_201_CREATED)
def create_org(body: OrgCreateRequest, who: Caller, tenancy: Tenancy) -> OrgCreatedResponse:
    new = tenancy.create_org(who, body.name, body.display_name, body.country, body.admin_email)
    key = new.admin_key
    return OrgCreatedResponse(
        org=OrgResponse.from_domain(new.org),
        admin=UserResponse.from_domain(new.admin) if new.admin else None,
        admin_key=KeyCreatedResponse.from_new(key.key, key.token) if key else None,
    )


@router.get("", operation_id="listOrgs")
def list_orgs(who: Caller, tenancy: Tenancy) -> list[OrgResponse]:
    return [OrgResponse.from_domain(o) for o in tenancy.list_orgs(who)]


@router.get("/{org}", operation_id="getOrg")
def get_org(org: str, who: Caller, tenancy: Tenancy) -> OrgResponse:
    return OrgResponse.from_domain(tenancy.get_org(who, org))


@router.post("/{org}/suspend", operation_id="suspendOrg")
def suspend_org(org: str, body: OrgSuspendRequest, who: Caller, tenancy: Tenancy) -> OrgResponse:
    """Operator admins suspend an organization: every key of its users is refused (403 org_suspended)."""
    return OrgResponse.from_domain(tenancy.suspend_org(who, org, body.reason))


@router.post("/{org}/resume", operation_id="resumeOrg")
def resume_org(org: str, who: Caller, tenancy: Tenancy, body: OrgResumeRequest | None = None) -> OrgResponse:
    return OrgResponse.from_domain(tenancy.resume_org(who, org, body.reason if body else None))


@router.post("/{org}/projects", operation_id="createProject", status_code=status.HTTP_201_CREATED)
def create_project(org: str, body: ProjectCreateRequest, who: Caller, tenancy: Tenancy) -> ProjectResponse:
    return ProjectResponse.from_domain(tenancy.create_project(who, org, body.name, body.description))


@router.get("/{org}/projects", operation_id="listProjects")
def list_projects(org: str, who: Caller, tenancy: Tenancy) -> list[ProjectResponse]:
    return [ProjectResponse.from_domain(p) for p in tenancy.list_projects(who, org)]


@router.get("/{org}/projects/{project}", operation_id="getProject")
def get_project(org: str, project: str, who: Caller, tenancy: Tenancy) -> ProjectResponse:
    return ProjectResponse.from_domain(tenancy.get_project(who, org, project))


@router.post("/{org}/users", operation_id="createOrgUser", status_code=status.HTTP_201_CREATED)
def create_user(org: str, body: UserCreateRequest, who: Caller, tenancy: Tenancy) -> UserResponse:
    return UserResponse.from_domain(tenancy.create_user(who, org, body.email, body.role))


@router.get("/{org}/users", operation_id="listOrgUsers")
def list_users(org: str, who: Caller, tenancy: Tenancy) -> list[UserResponse]:
    return [UserResponse.from_domain(u) for u in tenancy.list_users(who, org)]
