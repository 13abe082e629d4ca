"""Operator access requests (the lockbox, and four-eyes erasure requests) and tenant notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from brique.domain.tenancy import AccessRequest, Notification
from brique.store.tables import AccessRequestRow, NotificationRow

# what a decision, a revocation or an erasure confirmation may change on a request
_MUTABLE = ("status", "decided_by", "decided_at", "expires_at", "revoked_by", "revoked_at", "reason")


def access_row_to_domain(row: AccessRequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id, org_id=row.org_id, scope_kind=row.scope_kind, scope_id=row.scope_id,
        justification=row.justification, duration_s=row.duration_s, requested_by=row.requested_by,
        requested_at=row.requested_at, status=row.status, break_glass=row.break_glass, decided_by=row.decided_by,
        decided_at=row.decided_at, expires_at=row.expires_at, revoked_by=row.revoked_by, revoked_at=row.revoked_at,
        reason=row.reason,
    )  # fmt: skip


def notification_row_to_domain(row: NotificationRow) -> Notification:
    return Notification(row.id, row.org_id, row.at, row.kind, row.message)


# -- access requests -----------------------------------------------------------------------------


def add(session: Session, req: AccessRequest) -> None:
    session.add(AccessRequestRow(**{f: getattr(req, f) for f in AccessRequest.__slots__}))  # type: ignore[attr-defined]
    session.flush()


def get(session: Session, request_id: str) -> AccessRequest | None:
    row = session.get(AccessRequestRow, request_id)
    return access_row_to_domain(row) if row else None


def save(session: Session, req: AccessRequest) -> None:
    """Store what became of a request (its decision, expiry, revocation)."""
    row = session.get(AccessRequestRow, req.id)
    assert row is not None  # read in this transaction
    for f in _MUTABLE:
        setattr(row, f, getattr(req, f))
    session.flush()


def list_requests(session: Session, org_id: str | None) -> list[AccessRequest]:
    """Newest first; all orgs' unless `org_id`."""
    q = select(AccessRequestRow).order_by(AccessRequestRow.requested_at.desc())
    if org_id:
        q = q.where(AccessRequestRow.org_id == org_id)
    return [access_row_to_domain(r) for r in session.scalars(q)]


def live_grant(
    session: Session, org_id: str, user_id: str, job_id: str, project_id: str, now: datetime
) -> AccessRequest | None:
    """The approved, unexpired request of `user_id` (requested or decided by them) covering this job,
    directly or through its project; the one lasting longest."""
    q = select(AccessRequestRow).where(
        AccessRequestRow.org_id == org_id,
        AccessRequestRow.status == "approved",
        AccessRequestRow.expires_at > now,
        or_(AccessRequestRow.requested_by == user_id, AccessRequestRow.decided_by == user_id),
        or_(
            (AccessRequestRow.scope_kind == "job") & (AccessRequestRow.scope_id == job_id),
            (AccessRequestRow.scope_kind == "project") & (AccessRequestRow.scope_id == project_id),
        ),
    )
    row = session.scalars(q.order_by(AccessRequestRow.expires_at.desc())).first()
    return access_row_to_domain(row) if row else None


def decided(session: Session, org_id: str) -> list[AccessRequest]:
    """An org's requests that were ever granted (approved, or approved then revoked)."""
    rows = session.scalars(select(AccessRequestRow).where(
        AccessRequestRow.org_id == org_id, AccessRequestRow.decided_at.is_not(None),
        AccessRequestRow.status.in_(("approved", "revoked")),
    )).all()  # fmt: skip
    return [access_row_to_domain(r) for r in rows]


# -- notifications -------------------------------------------------------------------------------


def notify(session: Session, org_id: str, at: datetime, kind: str, message: str) -> None:
    session.add(NotificationRow(org_id=org_id, at=at, kind=kind, message=message))


def notifications(session: Session, org_id: str) -> list[Notification]:
    q = select(NotificationRow).where(NotificationRow.org_id == org_id).order_by(NotificationRow.id)
    return [notification_row_to_domain(r) for r in session.scalars(q)]
