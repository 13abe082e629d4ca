"""Authorization helpers shared by services: one place turns a 'no' into the right error."""

from __future__ import annotations

from brique.domain.job_records import JobRecord
from brique.domain.tenancy import OPERATOR_ONLY, TENANT_ONLY, Action, Principal, can, in_scope
from brique.errors import NotFound, OperatorOnly, PermissionDenied, TenantOnly


def require(who: Principal, action: Action) -> None:
    if can(who, action):
        return
    if action in TENANT_ONLY and who.is_operator:
        raise TenantOnly(f"'{action}' is a tenant action; operator keys cannot take it")
    if action in OPERATOR_ONLY and not who.is_operator:
        raise OperatorOnly(f"'{action}' is an operator action; tenant keys cannot take it")
    raise PermissionDenied(f"role '{who.role}' may not '{action}'")


def require_scope(who: Principal, org_id: str | None, what: str) -> None:
    """Another tenant's object answers 404, exactly like a missing one."""
    if not in_scope(who, org_id):
        raise NotFound(f"{what} not found")


def tenant_org(who: Principal, action: Action) -> str:
    """The org of a tenant identity allowed to take `action` (operators never submit)."""
    require(who, action)
    if who.org_id is None:
        raise TenantOnly(f"'{action}' is a tenant action; operator keys cannot take it")
    return who.org_id


def may_cancel(who: Principal, job: JobRecord) -> None:
    if job.created_by != who.user_id and not can(who, Action.JOB_CANCEL_ANY):
        raise PermissionDenied(f"job {job.id} was submitted by another member ({job.created_by}); members cancel "
                               "only their own jobs, cancelling another member's job needs the tenant-admin role",
                               field="job_id")  # fmt: skip
