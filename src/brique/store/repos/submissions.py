"""What a submission reads before it writes, in one statement: its project, the residency policies of
its org and of that project, and (when asked) the org's pending count.

Three reads in one: on PostgreSQL each statement is a round trip and, with the SQL layer's and the
driver's own work, about a tenth of a lone submission's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, null, or_, select
from sqlalchemy.orm import Session

from brique.domain.job_lifecycle import placement_from_dict
from brique.domain.policy import PlacementPolicy
from brique.domain.tenancy import Project
from brique.store.repos.jobs import COUNT_PENDING
from brique.store.tables import PlacementPolicyRow, ProjectRow

_P = ProjectRow.__table__
_POLICIES = PlacementPolicyRow.__table__
_PENDING = COUNT_PENDING.scalar_subquery()  # `jobs.count_pending`'s statement, bound to the same org_id


def _context(pending: ColumnElement[Any]) -> Select[Any]:
    return (
        select(_P.c.id, _P.c.org_id, _P.c.name, _P.c.description, _P.c.created_at, pending.label("pending"),
               _POLICIES.c.project_id.label("policy_of"), _POLICIES.c.policy)
        .select_from(_P.outerjoin(_POLICIES, and_(_POLICIES.c.org_id == _P.c.org_id,
                                                  or_(_POLICIES.c.project_id.is_(None), _POLICIES.c.project_id == _P.c.id))))
        .where(_P.c.org_id == bindparam("org_id"), or_(_P.c.id == bindparam("ref"), _P.c.name == bindparam("ref")))
    )  # fmt: skip


_CONTEXT, _CONTEXT_UNCOUNTED = _context(_PENDING), _context(null())  # built once each


@dataclass(frozen=True, slots=True)
class SubmissionContext:
    project: Project
    org_policy: PlacementPolicy | None  # None: none set at that level
    project_policy: PlacementPolicy | None
    pending: int | None  # the org's pending jobs (None: not counted)


def context(session: Session, org_id: str, ref: str, count: bool = True) -> SubmissionContext | None:
    """The context of a submission to project `ref` (its id or name) of `org_id`; None: no such project.
    `count`: also count the org's pending jobs (one index entry per pending job)."""
    rows = session.connection().execute(_CONTEXT if count else _CONTEXT_UNCOUNTED, {"org_id": org_id, "ref": ref}).all()
    if not rows:
        return None
    first = rows[0]
    policies = {r.policy_of: placement_from_dict(r.policy) for r in rows if r.id == first.id and r.policy is not None}
    project = Project(first.id, first.org_id, first.name, first.description, first.created_at)
    return SubmissionContext(project, policies.get(None), policies.get(first.id),
                             int(first.pending or 0) if count else None)
