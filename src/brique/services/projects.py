"""Projects as a governance unit: quota (max concurrent GPUs), fair-share weight and guaranteed
share of the org's contract, project roles and membership.

Who may: tenant admins (and operator admins) set any of their org's projects; a project-admin
sets its own project's members (not its quota: that is the org's budget decision). The
scheduler reads quotas and weights every cycle (`policy_terms`); `admission_check` (appended
to `JobService.admission`) refuses a submission to a project with members from a user who is
not one of its project-admins or members.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.job_lifecycle import JobSpec
from brique.domain.projects import ProjectGovernance, ProjectRole, ProjectView, guarantee_problem
from brique.domain.tenancy import Organization, Principal, Project, Role
from brique.errors import InvalidInput, NotFound, PermissionDenied
from brique.services.audit import AuditLog, Entry
from brique.store.db import Database
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import projects as repo
from brique.store.repos import tenancy as tenancy_repo

MANAGERS = frozenset({Role.TENANT_ADMIN, Role.OPERATOR_ADMIN})


class ProjectGovernanceService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog | None = None) -> None:
        self.db = db
        self.clock = clock
        self.audit = audit

    def get(self, who: Principal, org_ref: str, project_ref: str) -> ProjectView:
        with self.db.transaction() as s:
            org, project = self._find(s, who, org_ref, project_ref)
            return self._view(s, org, project)

    def set_governance(
        self, who: Principal, org_ref: str, project_ref: str, max_gpus: int | None, weight: float,
        guaranteed_gpus: int = 0,
    ) -> ProjectView:  # fmt: skip
        if who.role not in MANAGERS:
            raise PermissionDenied(f"role '{who.role}' may not set project quotas (tenant-admin)")
        with self.db.transaction() as s:
            org, project = self._find(s, who, org_ref, project_ref)
            try:
                g = ProjectGovernance(project.id, org.id, max_gpus, weight, guaranteed_gpus)
            except ValueError as exc:
                raise InvalidInput(str(exc), field=str(exc).split(" ")[0]) from exc
            self._check_shares(s, org, g)
            repo.save(s, g, self.clock.now())
            self._audit(s, who, org, project, "project.governance", {"max_gpus": max_gpus, "weight": weight,
                                                                     "guaranteed_gpus": guaranteed_gpus})  # fmt: skip
            return self._view(s, org, project)

    def set_member(self, who: Principal, org_ref: str, project_ref: str, user_id: str, role: str) -> ProjectView:
        try:
            parsed = ProjectRole(role)
        except ValueError as exc:
            raise InvalidInput(f"unknown role '{role}' (project-admin, member, viewer)", field="role") from exc
        with self.db.transaction() as s:
            org, project = self._find(s, who, org_ref, project_ref)
            self._may_manage_members(s, who, project)
            user = tenancy_repo.get_user(s, user_id)
            if user is None or user.org_id != org.id:
                raise NotFound(f"user '{user_id}' not found in the organization", field="user_id")
            repo.set_member(s, project.id, user.id, parsed, self.clock.now())
            self._audit(s, who, org, project, "project.member_set", {"user_id": user.id, "role": parsed.value})
            return self._view(s, org, project)

    def remove_member(self, who: Principal, org_ref: str, project_ref: str, user_id: str) -> ProjectView:
        with self.db.transaction() as s:
            org, project = self._find(s, who, org_ref, project_ref)
            self._may_manage_members(s, who, project)
            if not repo.remove_member(s, project.id, user_id):
                raise NotFound(f"user '{user_id}' is not a member of the project", field="user_id")
            self._audit(s, who, org, project, "project.member_removed", {"user_id": user_id})
            return self._view(s, org, project)

    # -- scheduler and admission ----------------------------------------------------------------

    @staticmethod
    def policy_terms(
        found: list[ProjectGovernance],
    ) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, float], ...]]:
        """(project quotas, project weights) for the scheduling policy, from every project's governance."""
        quotas = tuple((g.project_id, g.max_gpus) for g in found if g.max_gpus is not None)
        weights = tuple((g.project_id, g.weight) for g in found)
        return quotas, weights

    @staticmethod
    def admission_check(s: Session, who: Principal, spec: JobSpec, project_id: str) -> None:
        """A project with members takes jobs only from its project-admins and members (tenant
        admins always may)."""
        if who.is_operator or who.role is Role.TENANT_ADMIN or not repo.has_members(s, project_id):
            return
        role = repo.role_of(s, project_id, who.user_id)
        if role is None or not role.may_submit:
            held = f"is a {role.value} of" if role else "is not a member of"
            raise PermissionDenied(f"user {who.user_id} {held} project '{spec.project}'; "
                                   "only its project-admins and members may submit jobs to it")  # fmt: skip

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _find(s: Session, who: Principal, org_ref: str, project_ref: str) -> tuple[Organization, Project]:
        org = tenancy_repo.find_org(s, org_ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        project = tenancy_repo.find_project(s, org.id, project_ref)
        if project is None:
            raise NotFound(f"project '{project_ref}' not found", field="project")
        return org, project

    @staticmethod
    def _may_manage_members(s: Session, who: Principal, project: Project) -> None:
        if who.role in MANAGERS or repo.role_of(s, project.id, who.user_id) is ProjectRole.PROJECT_ADMIN:
            return
        raise PermissionDenied(f"role '{who.role}' may not manage the members of project '{project.name}' "
                               "(tenant-admin or its project-admin)")  # fmt: skip

    @staticmethod
    def _check_shares(s: Session, org: Organization, g: ProjectGovernance) -> None:
        shares = {x.project_id: x.guaranteed_gpus for x in repo.for_org(s, org.id)}
        shares[g.project_id] = g.guaranteed_gpus
        guarantee = sum(c.terms.guaranteed_gpus for c in contracts_repo.for_org(s, org.id))
        problem = guarantee_problem(shares, guarantee)
        if problem is not None and g.guaranteed_gpus > 0:
            raise InvalidInput(problem, field="guaranteed_gpus")

    @staticmethod
    def _view(s: Session, org: Organization, project: Project) -> ProjectView:
        g = repo.governance(s, project.id) or ProjectGovernance(project.id, org.id)
        return ProjectView(project, g, tuple(repo.members(s, project.id)))

    def _audit(self, s: Session, who: Principal, org: Organization, project: Project, action: str,
               details: dict) -> None:  # fmt: skip
        if self.audit is not None:
            self.audit.append(s, Entry(who.user_id, org.id, action, project.id, details=details))
