"""Contracts per tenant: capacity terms (guaranteed priority GPUs, fair-share weight, borrowing)
and commercial terms (agreed rates, monthly commitment, term dates, currency, budget-exempt
tiers). The one record both the scheduler and billing read; every change is a new version,
kept whole and written to the audit log."""

from __future__ import annotations

import dataclasses

from brique.clock import Clock
from brique.domain.contracts import Contract, ContractRecord, ContractVersion
from brique.domain.fleet import Fleet
from brique.domain.tenancy import Action, Principal
from brique.errors import InvalidInput, NotFound
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import contracts as repo
from brique.store.repos import tenancy as tenancy_repo


class ContractService:
    def __init__(self, db: Database, clock: Clock, fleet: Fleet, audit: AuditLog | None = None) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.audit = audit

    def replace(self, who: Principal, org_ref: str, terms: list[Contract]) -> list[ContractRecord]:
        """Set an org's contracts (at most one fleet-wide, one per site), replacing what it had,
        as a new version. `terms` may carry any tenant: the org named by `org_ref` is used."""
        require(who, Action.CONTRACT_MANAGE)
        self._validate(terms)
        now = self.clock.now()
        with self.db.transaction("the contract changed meanwhile; read it again and retry", "contracts") as s:
            org = tenancy_repo.find_org(s, org_ref)
            if org is None:
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            own = [dataclasses.replace(t, tenant=org.id) for t in terms]
            records = repo.replace_for_org(s, org.id, own, now, who.user_id or "operator")
            if self.audit is not None:
                version = records[0].version if records else repo.current_version(s, org.id)
                self.audit.append(s, Entry(who.user_id or "operator", org.id, "contract.changed", org.id,
                                           details={"version": version, "contracts": len(own)}))  # fmt: skip
            return records

    def list(self, who: Principal, org_ref: str) -> list[ContractRecord]:
        require(who, Action.CONTRACT_READ)
        with self.db.transaction() as s:
            return repo.for_org(s, self._visible(s, who, org_ref))

    def versions(self, who: Principal, org_ref: str) -> list[ContractVersion]:
        require(who, Action.CONTRACT_READ)
        with self.db.transaction() as s:
            org_id = self._visible(s, who, org_ref)
            return [ContractVersion(v.version, v.changed_by, v.at,
                                    tuple(repo.contract_from_dict(org_id, d) for d in v.terms))
                    for v in repo.versions(s, org_id)]  # fmt: skip

    @staticmethod
    def _visible(s: object, who: Principal, org_ref: str) -> str:
        org = tenancy_repo.find_org(s, org_ref)  # type: ignore[arg-type]
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        return org.id

    def _validate(self, terms: list[Contract]) -> None:
        seen: set[str | None] = set()
        total = self.fleet.gpu_count
        for i, t in enumerate(terms):
            if t.site in seen:
                where = f"site '{t.site}'" if t.site else "the whole fleet"
                raise InvalidInput(f"more than one contract for {where}", field=f"contracts[{i}].site")
            seen.add(t.site)
            if t.site is not None and self.fleet.site(t.site) is None:
                raise InvalidInput(f"unknown site '{t.site}'", field=f"contracts[{i}].site")
            cap = self.fleet.site(t.site).gpu_count if t.site else total  # type: ignore[union-attr]
            if t.guaranteed_gpus > cap:
                raise InvalidInput(f"guarantees {t.guaranteed_gpus} GPUs where there are {cap}",
                                   field=f"contracts[{i}].guaranteed_gpus")  # fmt: skip
