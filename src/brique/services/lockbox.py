"""Operator access lockbox: no operator reads tenant data without the tenant's approval.

    operator opens a request (job or project, justification, <= 8 h)
        -> tenant-admin approves (access until now + duration) or denies
        -> access ends at expiry or when either side revokes it
    break-glass: an operator opens it, a *second, distinct* operator confirms; access starts at
    once and the tenant is notified at once (and can revoke it).
Auditors are read-only: they list requests but never open, confirm or revoke one.

Every read made under a grant is written to the audit log by the service that reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.tenancy import AccessRequest, Notification, Principal, Role
from brique.errors import (
    Conflict,
    FourEyesRequired,
    InvalidInput,
    NotFound,
    OperatorOnly,
    PermissionDenied,
    ReadOnly,
    TenantOnly,
)
from brique.ids import IdFactory, new_id
from brique.services.audit import AuditLog, Entry
from brique.store.db import Database
from brique.store.repos import jobs as jobs_repo
from brique.store.repos import lockbox as lockbox_repo
from brique.store.repos import tenancy as tenancy_repo

MAX_DURATION_S = 8 * 3600
SCOPES = ("job", "project")
ACTING_OPERATORS = (Role.OPERATOR_ADMIN, Role.OPERATOR)


def _acting_operator(who: Principal, what: str) -> None:
    """Operators and operator-admins act; auditors only read; tenants and node agents never."""
    if who.role is Role.AUDITOR:
        raise ReadOnly(f"auditors are read-only: they cannot {what}")
    if who.role not in ACTING_OPERATORS:
        raise OperatorOnly(f"only operators {what}")


@dataclass(frozen=True, slots=True)
class Grant:
    request_id: str
    expires_at: datetime


class Lockbox:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog, ids: IdFactory = new_id) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit
        self.ids = ids

    # -- operators ------------------------------------------------------------------------------

    def request(
        self, who: Principal, scope_kind: str, scope_id: str, justification: str, duration_s: int,
        break_glass: bool = False,
    ) -> AccessRequest:  # fmt: skip
        _acting_operator(who, "request access to tenant data")
        if scope_kind not in SCOPES:
            raise InvalidInput(f"must be one of: {', '.join(SCOPES)}", field="scope")
        if not 60 <= duration_s <= MAX_DURATION_S:
            raise InvalidInput(f"must be between 60 and {MAX_DURATION_S} seconds (8 h)", field="duration_s")
        if len(justification.strip()) < 10:
            raise InvalidInput("explain why, in at least 10 characters", field="justification")
        now = self.clock.now()
        with self.db.transaction() as s:
            org_id = self._scope_org(s, scope_kind, scope_id)
            row = AccessRequest(
                id=self.ids("acc"), org_id=org_id, scope_kind=scope_kind, scope_id=scope_id,
                justification=justification.strip(), duration_s=duration_s, requested_by=who.user_id,
                requested_at=now, status="pending", break_glass=break_glass,
            )  # fmt: skip
            lockbox_repo.add(s, row)
            self.audit.append(s, Entry(who.user_id, org_id, "lockbox.requested", row.id,
                                       details={"scope": f"{scope_kind}:{scope_id}", "break_glass": break_glass,
                                                "duration_s": duration_s}))  # fmt: skip
            s.flush()
            return row

    def confirm_break_glass(self, who: Principal, request_id: str) -> AccessRequest:
        """The second operator's confirmation: access starts now; the tenant is told at once."""
        _acting_operator(who, "confirm break-glass access")
        now = self.clock.now()
        with self.db.transaction() as s:
            row = self._get(s, request_id)
            if not row.break_glass or row.status != "pending":
                raise Conflict(f"{request_id} is not a pending break-glass request", field="request_id")
            if row.requested_by == who.user_id:
                raise FourEyesRequired("break-glass needs a second, distinct operator")
            row = self._approve(s, row, who, now)
            lockbox_repo.notify(s, row.org_id, now, "break_glass",
                                f"break-glass access to {row.scope_kind} {row.scope_id} opened by "
                                f"{row.requested_by}, confirmed by {who.user_id}, until "
                                f"{row.expires_at:%Y-%m-%dT%H:%M:%SZ}: {row.justification}"[:2000])  # fmt: skip
            self.audit.append(s, Entry(who.user_id, row.org_id, "lockbox.break_glass", row.id, "approved"))
            s.flush()
            return row

    # -- tenants --------------------------------------------------------------------------------

    def decide(
        self, who: Principal, request_id: str, approve: bool, reason: str | None = None
    ) -> AccessRequest:
        if who.role is not Role.TENANT_ADMIN:
            raise PermissionDenied("only a tenant-admin of the organization decides access requests")
        now = self.clock.now()
        with self.db.transaction() as s:
            row = self._get(s, request_id)
            if row.org_id != who.org_id:
                raise NotFound(f"access request '{request_id}' not found")
            if row.status != "pending":
                raise Conflict(f"{request_id} is already {self.status(row, now)}", field="request_id")
            if approve:
                row = self._approve(s, row, who, now)
            else:
                row = replace(row, status="denied", decided_by=who.user_id, decided_at=now, reason=reason)
                lockbox_repo.save(s, row)
            self.audit.append(s, Entry(who.user_id, row.org_id, "lockbox.decided", row.id, row.status))
            s.flush()
            return row

    def revoke(self, who: Principal, request_id: str) -> AccessRequest:
        """Tenant-admins and operators can end a grant at any time."""
        now = self.clock.now()
        with self.db.transaction() as s:
            row = self._get(s, request_id)
            operator_may = who.role in (Role.OPERATOR_ADMIN, Role.OPERATOR)
            if not (operator_may or (who.role is Role.TENANT_ADMIN and who.org_id == row.org_id)):
                raise NotFound(f"access request '{request_id}' not found")
            if self.status(row, now) not in ("approved", "pending"):
                raise Conflict(f"{request_id} is already {self.status(row, now)}", field="request_id")
            row = replace(row, status="revoked", revoked_by=who.user_id, revoked_at=now)
            lockbox_repo.save(s, row)
            self.audit.append(s, Entry(who.user_id, row.org_id, "lockbox.revoked", row.id))
            s.flush()
            return row

    def list(self, who: Principal, org_id: str | None) -> list[AccessRequest]:
        """Tenants see every request on their data; operators and auditors see all (or one org's)."""
        if who.role is Role.NODE_AGENT:
            raise PermissionDenied("node agents have no business with access requests")
        if not who.is_operator:
            org_id = who.org_id
        with self.db.transaction() as s:
            return lockbox_repo.list_requests(s, org_id)

    def notifications(self, who: Principal) -> list[Notification]:
        if who.org_id is None:
            raise TenantOnly("notifications are a tenant's")
        with self.db.transaction() as s:
            return lockbox_repo.notifications(s, who.org_id)

    # -- checks ---------------------------------------------------------------------------------

    def grant_for(self, s: Session, who: Principal, org_id: str, job_id: str, project_id: str) -> Grant | None:
        """The operator's live grant covering this job (directly or through its project), if any."""
        if not who.is_operator:
            return None
        row = lockbox_repo.live_grant(s, org_id, who.user_id, job_id, project_id, self.clock.now())
        return Grant(row.id, row.expires_at) if row and row.expires_at else None

    @staticmethod
    def status(row: AccessRequest, now: datetime) -> str:
        if row.status == "approved" and row.expires_at is not None and row.expires_at <= now:
            return "expired"
        return row.status

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _approve(s: Session, row: AccessRequest, who: Principal, now: datetime) -> AccessRequest:
        row = replace(row, status="approved", decided_by=who.user_id, decided_at=now,
                      expires_at=now + timedelta(seconds=row.duration_s))  # fmt: skip
        lockbox_repo.save(s, row)
        return row

    @staticmethod
    def _get(s: Session, request_id: str) -> AccessRequest:
        row = lockbox_repo.get(s, request_id)
        if row is None:
            raise NotFound(f"access request '{request_id}' not found")
        return row

    @staticmethod
    def _scope_org(s: Session, kind: str, scope_id: str) -> str:
        found = jobs_repo.get(s, scope_id) if kind == "job" else tenancy_repo.project_by_id(s, scope_id)
        if found is None:
            raise NotFound(f"{kind} '{scope_id}' not found", field="scope_id")
        return found.org_id
