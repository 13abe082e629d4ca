"""Project governance (quota, weight, guaranteed share) and project members."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from brique.domain.projects import ProjectGovernance, ProjectMember, ProjectRole
from brique.store.commerce_tables import ProjectGovernanceRow, ProjectMemberRow


def _gov(row: ProjectGovernanceRow) -> ProjectGovernance:
    return ProjectGovernance(row.project_id, row.org_id, row.max_gpus, float(row.weight), row.guaranteed_gpus)


def governance(session: Session, project_id: str) -> ProjectGovernance | None:
    row = session.get(ProjectGovernanceRow, project_id)
    return None if row is None else _gov(row)


def for_org(session: Session, org_id: str) -> list[ProjectGovernance]:
    q = select(ProjectGovernanceRow).where(ProjectGovernanceRow.org_id == org_id)
    return [_gov(r) for r in session.scalars(q)]


def all_governance(session: Session) -> list[ProjectGovernance]:
    return [_gov(r) for r in session.scalars(select(ProjectGovernanceRow).order_by(ProjectGovernanceRow.project_id))]


def save(session: Session, g: ProjectGovernance, at: datetime) -> ProjectGovernance:
    row = session.get(ProjectGovernanceRow, g.project_id)
    if row is None:
        row = ProjectGovernanceRow(project_id=g.project_id, org_id=g.org_id)
        session.add(row)
    row.max_gpus, row.weight, row.guaranteed_gpus, row.updated_at = (
        g.max_gpus, Decimal(str(g.weight)), g.guaranteed_gpus, at)  # fmt: skip
    session.flush()
    return g


def members(session: Session, project_id: str) -> list[ProjectMember]:
    q = select(ProjectMemberRow).where(ProjectMemberRow.project_id == project_id).order_by(ProjectMemberRow.id)
    return [ProjectMember(r.project_id, r.user_id, ProjectRole(r.role), r.added_at) for r in session.scalars(q)]


def role_of(session: Session, project_id: str, user_id: str) -> ProjectRole | None:
    q = select(ProjectMemberRow.role).where(ProjectMemberRow.project_id == project_id,
                                            ProjectMemberRow.user_id == user_id)  # fmt: skip
    role = session.scalar(q)
    return None if role is None else ProjectRole(role)


_HAS_MEMBERS = select(ProjectMemberRow.id).where(ProjectMemberRow.project_id == bindparam("project_id")).limit(1)


def has_members(session: Session, project_id: str) -> bool:
    """(Read on every submission: the statement is built once.)"""
    return session.scalar(_HAS_MEMBERS, {"project_id": project_id}) is not None


def set_member(session: Session, project_id: str, user_id: str, role: ProjectRole, at: datetime) -> None:
    q = select(ProjectMemberRow).where(ProjectMemberRow.project_id == project_id,
                                       ProjectMemberRow.user_id == user_id)  # fmt: skip
    row = session.scalars(q).first()
    if row is None:
        session.add(ProjectMemberRow(project_id=project_id, user_id=user_id, role=role.value, added_at=at))
    else:
        row.role = role.value
    session.flush()


def remove_member(session: Session, project_id: str, user_id: str) -> int:
    q = delete(ProjectMemberRow).where(ProjectMemberRow.project_id == project_id,
                                       ProjectMemberRow.user_id == user_id)  # fmt: skip
    return session.execute(q).rowcount or 0
