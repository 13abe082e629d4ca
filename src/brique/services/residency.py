"""Residency policies: set by the tenant per org and per project; applied to every job at submission."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.fleet import Fleet
from brique.domain.job_lifecycle import JobState, placement_to_dict
from brique.domain.policy import ANYWHERE, PlacementPolicy
from brique.domain.residency import closest_site, is_narrower, narrow
from brique.domain.tenancy import Action, Principal, Role
from brique.errors import InvalidInput, NotFound, PermissionDenied
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import jobs as jobs_repo
from brique.store.repos import residency as residency_repo
from brique.store.repos import tenancy as tenancy_repo


@dataclass(frozen=True, slots=True)
class PolicyChange:
    policy: PlacementPolicy
    effective: PlacementPolicy
    pending_narrowed: list[str]  # pending jobs now held to the new policy
    running_outside: list[str]  # running jobs outside it: listed, never moved silently


class ResidencyService:
    def __init__(self, db: Database, clock: Clock, fleet: Fleet, audit: AuditLog) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.audit = audit

    def effective(self, s: Session, org_id: str, project_id: str) -> PlacementPolicy:
        return self.of(*residency_repo.org_and_project(s, org_id, project_id))

    @staticmethod
    def of(org: PlacementPolicy | None, project: PlacementPolicy | None) -> PlacementPolicy:
        """The effective policy of a project from those set for its org and for it (None: none set)."""
        return narrow(org or ANYWHERE, project or ANYWHERE)

    def get(
        self, who: Principal, org_ref: str, project_ref: str | None
    ) -> tuple[PlacementPolicy, PlacementPolicy]:
        """(the policy set at this level, the effective one)."""
        require(who, Action.ORG_READ)
        with self.db.transaction() as s:
            org_id, project_id = self._scope(s, who, org_ref, project_ref)
            own = self._stored(s, org_id, project_id) or ANYWHERE
            eff = self.effective(s, org_id, project_id) if project_id else own
            return own, eff

    def set(
        self, who: Principal, org_ref: str, project_ref: str | None, policy: PlacementPolicy
    ) -> PolicyChange:
        if who.role is not Role.TENANT_ADMIN:
            raise PermissionDenied("a tenant-admin sets the residency policy of its organization")
        self._check_satisfiable(policy)
        now = self.clock.now()
        with self.db.transaction() as s:
            org_id, project_id = self._scope(s, who, org_ref, project_ref)
            if project_id is not None:
                org_policy = self._stored(s, org_id, None) or ANYWHERE
                if not is_narrower(policy, org_policy):
                    raise InvalidInput(f"a project can only restrict its organization's policy "
                                       f"'{org_policy.label}'", field="policy")  # fmt: skip
            residency_repo.put(s, org_id, project_id, policy, who.user_id, now)
            doc = placement_to_dict(policy)
            change = self._apply_to_jobs(s, org_id, project_id, policy)
            self.audit.append(s, Entry(who.user_id, org_id, "policy.set", project_id or org_id,
                                       details={"policy": doc, "pending_narrowed": change.pending_narrowed,
                                                "running_outside": change.running_outside}))  # fmt: skip
            return change

    # -- helpers --------------------------------------------------------------------------------

    def _apply_to_jobs(
        self, s: Session, org_id: str, project_id: str | None, policy: PlacementPolicy
    ) -> PolicyChange:
        narrowed, outside = [], []
        effective = policy
        by_project: dict[str, PlacementPolicy] = {}
        for row in jobs_repo.list_jobs(s, org_id=org_id, project_id=project_id, limit=100_000,
                                       states=(JobState.PENDING.value, *jobs_repo.ACTIVE)):  # fmt: skip
            if row.project_id not in by_project:
                by_project[row.project_id] = self.effective(s, org_id, row.project_id)
            effective = by_project[row.project_id]
            if row.state is JobState.PENDING:
                placement = narrow(effective, row.spec.placement)
                jobs_repo.replace_spec(s, row, dataclasses.replace(row.spec, placement=placement))
                narrowed.append(row.id)
            elif row.site_id and not effective.allows(self.fleet.site(row.site_id)):  # type: ignore[arg-type]
                outside.append(row.id)
        return PolicyChange(policy, effective, narrowed, outside)

    def _check_satisfiable(self, policy: PlacementPolicy) -> None:
        if not any(policy.allows(site) for site in self.fleet.sites):
            site, why = closest_site(policy, self.fleet)
            raise InvalidInput(f"no site meets policy '{policy.label}' (closest: {site.id}: {'; '.join(why)})",
                               field="policy")  # fmt: skip

    @staticmethod
    def _stored(s: Session, org_id: str, project_id: str | None) -> PlacementPolicy | None:
        return residency_repo.find(s, org_id, project_id)

    @staticmethod
    def _scope(s: Session, who: Principal, org_ref: str, project_ref: str | None) -> tuple[str, str | None]:
        org = tenancy_repo.find_org(s, org_ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        if project_ref is None:
            return org.id, None
        project = tenancy_repo.find_project(s, org.id, project_ref)
        if project is None:
            raise NotFound(f"project '{project_ref}' not found", field="project")
        return org.id, project.id
