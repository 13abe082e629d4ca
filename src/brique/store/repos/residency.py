"""Residency policies: one per org (`project_id` None) and one per project that narrows it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.orm import Session

from brique.domain.job_lifecycle import placement_from_dict, placement_to_dict
from brique.domain.policy import PlacementPolicy
from brique.store.tables import PlacementPolicyRow


def find(session: Session, org_id: str, project_id: str | None) -> PlacementPolicy | None:
    """The policy set at this level (the org's when `project_id` is None), if any."""
    row = _row(session, org_id, project_id)
    return placement_from_dict(row.policy) if row else None


_POLICIES = PlacementPolicyRow.__table__
_ORG_AND_PROJECT = select(_POLICIES.c.project_id, _POLICIES.c.policy).where(
    _POLICIES.c.org_id == bindparam("org_id"),
    or_(_POLICIES.c.project_id.is_(None), _POLICIES.c.project_id == bindparam("project_id")),
)  # read on every submission: Core, built once, run on the session's connection


def org_and_project(
    session: Session, org_id: str, project_id: str
) -> tuple[PlacementPolicy | None, PlacementPolicy | None]:
    """The org's policy and the project's, in one read (a submission needs both)."""
    rows = session.connection().execute(_ORG_AND_PROJECT, {"org_id": org_id, "project_id": project_id})
    found = {pid: placement_from_dict(doc) for pid, doc in rows}
    return found.get(None), found.get(project_id)


def put(
    session: Session, org_id: str, project_id: str | None, policy: PlacementPolicy, by: str, now: datetime
) -> None:
    """Set the policy of this level (creating or replacing it)."""
    row = _row(session, org_id, project_id)
    doc = placement_to_dict(policy)
    if row is None:
        session.add(PlacementPolicyRow(org_id=org_id, project_id=project_id, policy=doc, updated_by=by,
                                       updated_at=now))  # fmt: skip
    else:
        row.policy, row.updated_by, row.updated_at = doc, by, now
    session.flush()


def _row(session: Session, org_id: str, project_id: str | None) -> PlacementPolicyRow | None:
    return session.scalars(select(PlacementPolicyRow).where(PlacementPolicyRow.org_id == org_id,
                                                            _project_is(project_id))).first()  # fmt: skip


def _project_is(project_id: str | None) -> ColumnElement[bool]:
    return (
        PlacementPolicyRow.project_id.is_(None)
        if project_id is None
        else PlacementPolicyRow.project_id == project_id
    )
