"""Sovereignty controls: residency policies, the operator-access lockbox, secrets, audit, evidence."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from brique.api.deps import Caller, Sov
from brique.api.params import From, To, window
from brique.domain.tenancy import AccessRequest
from brique.schemas.sovereignty import (
    AccessDecision,
    AccessRequestCreate,
    AccessRequestResponse,
    AuditVerifyResponse,
    ConsistencyResponse,
    InclusionResponse,
    NotificationResponse,
    PlatformKeyResponse,
    PolicyChangeResponse,
    PolicyModel,
    PolicyResponse,
    SecretPut,
    SecretResponse,
    TreeHeadResponse,
)

router = APIRouter(prefix="/v1", tags=["sovereignty"])


def _access(row: AccessRequest, sov: Any) -> AccessRequestResponse:
    return AccessRequestResponse(
        id=row.id, org_id=row.org_id, scope=row.scope_kind, scope_id=row.scope_id, justification=row.justification,
        duration_s=row.duration_s, requested_by=row.requested_by, requested_at=row.requested_at,
        status=sov.lockbox.status(row, sov.audit.clock.now()), break_glass=row.break_glass,
        decided_by=row.decided_by, decided_at=row.decided_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
    )  # fmt: skip


# -- residency ----------------------------------------------------------------------------------


@router.get("/orgs/{org}/policy", operation_id="getOrgPolicy")
def get_org_policy(org: str, who: Caller, sov: Sov) -> PolicyResponse:
    own, eff = sov.residency.get(who, org, None)
    return PolicyResponse(policy=PolicyModel.from_domain(own), effective=PolicyModel.from_domain(eff))


@router.put("/orgs/{org}/policy", operation_id="setOrgPolicy")
def set_org_policy(org: str, body: PolicyModel, who: Caller, sov: Sov) -> PolicyChangeResponse:
    return _change(sov.residency.set(who, org, None, body.to_domain()))


@router.get("/orgs/{org}/projects/{project}/policy", operation_id="getProjectPolicy")
def get_project_policy(org: str, project: str, who: Caller, sov: Sov) -> PolicyResponse:
    own, eff = sov.residency.get(who, org, project)
    return PolicyResponse(policy=PolicyModel.from_domain(own), effective=PolicyModel.from_domain(eff))


@router.put("/orgs/{org}/projects/{project}/policy", operation_id="setProjectPolicy")
def set_project_policy(
    org: str, project: str, body: PolicyModel, who: Caller, sov: Sov
) -> PolicyChangeResponse:
    return _change(sov.residency.set(who, org, project, body.to_domain()))


def _change(change: Any) -> PolicyChangeResponse:
    return PolicyChangeResponse(
        policy=PolicyModel.from_domain(change.policy),
        effective=PolicyModel.from_domain(change.effective),
        pending_narrowed=change.pending_narrowed,
        running_outside=change.running_outside,
    )


# -- lockbox ------------------------------------------------------------------------------------


@router.post("/access-requests", operation_id="createAccessRequest", status_code=status.HTTP_201_CREATED)
def create_access_request(body: AccessRequestCreate, who: Caller, sov: Sov) -> AccessRequestResponse:
    row = sov.lockbox.request(
        who, body.scope, body.scope_id, body.justification, body.duration_s, body.break_glass
    )
    return _access(row, sov)


@router.get("/access-requests", operation_id="listAccessRequests")
def list_access_requests(who: Caller, sov: Sov, org: str | None = None) -> list[AccessRequestResponse]:
    return [_access(r, sov) for r in sov.lockbox.list(who, org)]


@router.post("/access-requests/{request_id}/approve", operation_id="approveAccessRequest")
def approve(
    request_id: str, who: Caller, sov: Sov, body: AccessDecision | None = None
) -> AccessRequestResponse:
    return _access(sov.lockbox.decide(who, request_id, True, body.reason if body else None), sov)


@router.post("/access-requests/{request_id}/deny", operation_id="denyAccessRequest")
def deny(request_id: str, who: Caller, sov: Sov, body: AccessDecision | None = None) -> AccessRequestResponse:
    return _access(sov.lockbox.decide(who, request_id, False, body.reason if body else None), sov)


@router.post("/access-requests/{request_id}/revoke", operation_id="revokeAccessRequest")
def revoke(request_id: str, who: Caller, sov: Sov) -> AccessRequestResponse:
    return _access(sov.lockbox.revoke(who, request_id), sov)


@router.post("/access-requests/{request_id}/confirm", operation_id="confirmBreakGlass")
def confirm_break_glass(request_id: str, who: Caller, sov: Sov) -> AccessRequestResponse:
    return _access(sov.lockbox.confirm_break_glass(who, request_id), sov)


@router.get("/notifications", operation_id="listNotifications")
def notifications(who: Caller, sov: Sov) -> list[NotificationResponse]:
    return [NotificationResponse(id=n.id, at=n.at, kind=n.kind, message=n.message)
            for n in sov.lockbox.notifications(who)]  # fmt: skip


# -- secrets ------------------------------------------------------------------------------------


@router.put("/orgs/{org}/secrets/{name}", operation_id="putSecret", status_code=status.HTTP_204_NO_CONTENT)
def put_secret(org: str, name: str, body: SecretPut, who: Caller, sov: Sov) -> None:
    sov.secrets.put(who, org, name, body.value)


@router.get("/orgs/{org}/secrets", operation_id="listSecrets")
def list_secrets(org: str, who: Caller, sov: Sov) -> list[SecretResponse]:
    return [SecretResponse(name=r.name, updated_at=r.updated_at, updated_by=r.updated_by)
            for r in sov.secrets.names(who, org)]  # fmt: skip


@router.delete(
    "/orgs/{org}/secrets/{name}", operation_id="deleteSecret", status_code=status.HTTP_204_NO_CONTENT
)
def delete_secret(org: str, name: str, who: Caller, sov: Sov) -> None:
    sov.secrets.delete(who, org, name)


@router.post("/orgs/{org}/crypto-erase", operation_id="destroyTenantKey")
def destroy_tenant_key(org: str, who: Caller, sov: Sov, confirm: str | None = None) -> dict[str, Any]:
    """Destroy the tenant's data key (contract end): its secrets become unrecoverable. A tenant-admin's call,
    or an operator-admin's request (pending) confirmed by a second operator (`confirm=<request id>`).
    Returns the signed certificate, which says who authorized it."""
    return sov.secrets.destroy_key(who, org, confirm)


# -- audit and evidence -------------------------------------------------------------------------


@router.get("/audit/verify", operation_id="verifyAudit")
def verify_audit(who: Caller, sov: Sov) -> AuditVerifyResponse:
    v = sov.audit.verify(who)
    return AuditVerifyResponse(ok=v.ok, checked=v.chain.checked, first_bad=v.chain.first_bad,
                               problem=v.chain.problem or v.checkpoint_problem, head_seq=v.chain.head_seq,
                               checkpoints_ok=v.checkpoints_ok, tree_size=v.tree_size,
                               signed_heads=v.signed_heads)  # fmt: skip


@router.get("/audit/tree-head", operation_id="getAuditTreeHead")
def audit_tree_head(who: Caller, sov: Sov) -> TreeHeadResponse:
    """The latest signed tree head of the audit log (any identity: witnesses keep it)."""
    return TreeHeadResponse(**sov.audit.tree_head().to_doc())


@router.get("/audit/consistency", operation_id="getAuditConsistency")
def audit_consistency(who: Caller, sov: Sov, first: int, second: int) -> ConsistencyResponse:
    return ConsistencyResponse(first=first, second=second, proof=sov.audit.consistency(first, second))


@router.get("/audit/inclusion", operation_id="getAuditInclusion")
def audit_inclusion(who: Caller, sov: Sov, seq: int, size: int) -> InclusionResponse:
    return InclusionResponse(seq=seq, tree_size=size, proof=sov.audit.inclusion(seq, size))


@router.get("/platform/keys", operation_id="listPlatformKeys")
def platform_keys(sov: Sov) -> list[PlatformKeyResponse]:
    """The platform's public signing keys, current and retired (pin them: `brique trust fetch`). Public,
    like a transparency log's keys: anyone verifying a document must be able to fetch them."""
    return [PlatformKeyResponse(**asdict(k)) for k in sov.signer.published()]


@router.post("/platform/keys/rotate", operation_id="rotatePlatformKey")
def rotate_platform_key(who: Caller, sov: Sov) -> PlatformKeyResponse:
    """A new current signing key (operator-admin); the old one is retired and still verifies."""
    return PlatformKeyResponse(**asdict(sov.audit.rotate_key(who)))


@router.get("/audit/export", operation_id="exportAudit")
def export_audit(who: Caller, sov: Sov, org: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    return sov.audit.export(who, org)


@router.get("/sovereignty/report", operation_id="sovereigntyReport")
def sovereignty_report(
    who: Caller, sov: Sov, org: str, since: From, until: To,
) -> dict[str, Any]:  # fmt: skip
    return sov.evidence.report(who, org, *window(since, until))
