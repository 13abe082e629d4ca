"""Capacity contracts per tenant: guaranteed priority GPUs, fair-share weight, borrowing terms."""

from __future__ import annotations

from dataclasses import dataclass

from brique.clock import Clock
from brique.domain.contracts import Contract, ContractRecord
from brique.domain.fleet import Fleet
from brique.domain.tenancy import Action, Principal
from brique.errors import InvalidInput, NotFound
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import contracts as repo
from brique.store.repos import tenancy as tenancy_repo


@dataclass(frozen=True, slots=True)
class ContractTerms:
    guaranteed_gpus: int = 0
    weight: float = 1.0
    may_borrow: bool = True
    borrow_cap: int | None = None
    site: str | None = None

    def for_tenant(self, org_id: str) -> Contract:
        return Contract(tenant=org_id, guaranteed_gpus=self.guaranteed_gpus, weight=self.weight,
                        may_borrow=self.may_borrow, borrow_cap=self.borrow_cap, site=self.site)  # fmt: skip


class ContractService:
    def __init__(self, db: Database, clock: Clock, fleet: Fleet) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet

    def replace(self, who: Principal, org_ref: str, terms: list[ContractTerms]) -> list[ContractRecord]:
        """Set an org's contracts (at most one fleet-wide, one per site), replacing what it had."""
        require(who, Action.CONTRACT_MANAGE)
        self._validate(terms)
        now = self.clock.now()
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
            if org is None:
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            return repo.replace_for_org(s, org.id, [t.for_tenant(org.id) for t in terms], now)

    def list(self, who: Principal, org_ref: str) -> list[ContractRecord]:
        require(who, Action.CONTRACT_READ)
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
            if org is None or not (who.is_operator or who.org_id == org.id):
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            return repo.for_org(s, org.id)

    def _validate(self, terms: list[ContractTerms]) -> None:
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
