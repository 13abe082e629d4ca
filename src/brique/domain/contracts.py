"""Capacity contracts and advance reservations: what a tenant is owed, and when.

Pure value types. A `Contract` gives a tenant (optionally in one site) a number of
guaranteed GPUs in the priority tier, a fair-share weight for idle capacity, and
whether (and how far) it may borrow beyond its guarantee. A `ContractBook` answers
look-ups; tenants without a contract get `DEFAULT_CONTRACT` terms (no guarantee,
weight 1, may borrow without cap).

An `AdvanceReservation` holds N GPUs (or named racks) in one site for a time window
[start, end). Times are POSIX seconds (floats), like everywhere in the pure core.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Contract:
    """Terms for one tenant, fleet-wide (`site=None`) or in one site.

    guaranteed_gpus: priority-tier GPUs the tenant can always get back (by preemption).
    weight: fair-share weight for idle capacity (> 0).
    may_borrow: whether the tenant may run beyond its guarantee on idle capacity.
    borrow_cap: most GPUs beyond its guarantee it may hold at once (None: no cap).
    """

    tenant: str
    guaranteed_gpus: int = 0
    weight: float = 1.0
    may_borrow: bool = True
    borrow_cap: int | None = None
    site: str | None = None

    def __post_init__(self) -> None:
        if self.guaranteed_gpus < 0:
            raise ValueError("guaranteed_gpus must be >= 0")
        if self.weight <= 0:
            raise ValueError("weight must be > 0")
        if self.borrow_cap is not None and self.borrow_cap < 0:
            raise ValueError("borrow_cap must be >= 0 or None")


@dataclass(frozen=True, slots=True)
class ContractRecord:
    """A contract as stored: its terms and when an operator last set them."""

    terms: Contract
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TenantTerms:
    """A tenant's contracts folded together (what the scheduler reads)."""

    tenant: str
    guarantee: int  # fleet-wide guarantee (contract with site=None)
    site_guarantees: tuple[tuple[str, int], ...]  # (site id, guarantee) from per-site contracts
    weight: float
    may_borrow: bool
    borrow_cap: int | None
    total_guarantee: int  # fleet-wide plus every per-site guarantee

    @property
    def most_at_once(self) -> int | None:
        """Most GPUs the tenant may ever hold at once (None: no contractual limit)."""
        if not self.may_borrow:
            return self.total_guarantee
        return None if self.borrow_cap is None else self.total_guarantee + self.borrow_cap


@dataclass(frozen=True, slots=True)
class ContractBook:
    """All contracts, indexed by tenant. Build with `ContractBook.of([...])`."""

    contracts: tuple[Contract, ...] = ()
    default: Contract = field(default_factory=lambda: Contract(tenant="*"))
    _terms: dict[str, TenantTerms] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_tenant: dict[str, list[Contract]] = {}
        for c in self.contracts:
            by_tenant.setdefault(c.tenant, []).append(c)
        for tenant, items in by_tenant.items():
            self._terms[tenant] = _fold(tenant, items, self.default)

    @classmethod
    def of(cls, contracts: Iterable[Contract], default: Contract | None = None) -> ContractBook:
        return cls(contracts=tuple(contracts), default=default or Contract(tenant="*"))

    def terms(self, tenant: str) -> TenantTerms:
        found = self._terms.get(tenant)
        if found is None:
            found = _fold(tenant, [], self.default)
            self._terms[tenant] = found
        return found


def _fold(tenant: str, items: list[Contract], default: Contract) -> TenantTerms:
    wide = [c for c in items if c.site is None]
    base = wide[0] if wide else (items[0] if items else default)
    sites: dict[str, int] = {}
    for c in items:
        if c.site is not None:
            sites[c.site] = sites.get(c.site, 0) + c.guaranteed_gpus
    guarantee = sum(c.guaranteed_gpus for c in wide)
    return TenantTerms(
        tenant=tenant,
        guarantee=guarantee,
        site_guarantees=tuple(sorted(sites.items())),
        weight=base.weight,
        may_borrow=base.may_borrow,
        borrow_cap=base.borrow_cap,
        total_guarantee=guarantee + sum(sites.values()),
    )


@dataclass(frozen=True, slots=True)
class AdvanceReservation:
    """Hold `gpus` GPUs (or all GPUs of the named `racks`) in `site` for [start, end).

    Before the window the scheduler drains the held GPUs (only work that ends by
    `start` may use them, judged by max runtime); inside it only jobs naming this
    reservation (`Job.reservation == id`, of `tenant` when set) run there.
    """

    id: str
    site: str
    start: float
    end: float
    gpus: int = 0
    racks: tuple[str, ...] = ()
    tenant: str | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("reservation end must be after start")
        if (self.gpus > 0) == bool(self.racks):
            raise ValueError("give either gpus > 0 or racks, not both")

    def active(self, now: float) -> bool:
        return self.start <= now < self.end
