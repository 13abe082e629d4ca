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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

TIER_NAMES = ("priority", "standard", "preemptible")  # mirrors domain.jobs.Tier (no import cycle)


@dataclass(frozen=True, slots=True)
class Contract:
    """Terms for one tenant, fleet-wide (`site=None`) or in one site.

    guaranteed_gpus: priority-tier GPUs the tenant can always get back (by preemption).
    weight: fair-share weight for idle capacity (> 0).
    may_borrow: whether the tenant may run beyond its guarantee on idle capacity.
    borrow_cap: most GPUs beyond its guarantee it may hold at once (None: no cap).

    Commercial terms (billing reads them, the scheduler ignores them): `monthly_commitment`
    (EUR, billed whether used or not, drawn down by priority usage at the priority rate),
    `rates` (tier -> agreed EUR per GPU-hour; tiers without one are billed at list price),
    `overage_rate` (priority beyond the commitment; default the priority rate), term dates
    (inclusive; None: open), `budget_exempt_tiers` (tiers a budget hard stop does not refuse),
    `inference_requests_per_min` / `inference_tokens_per_min` (the org's inference gateway limits;
    None: the operator's default, see `inference_limits`).
    """

    tenant: str
    guaranteed_gpus: int = 0
    weight: float = 1.0
    may_borrow: bool = True
    borrow_cap: int | None = None
    site: str | None = None
    monthly_commitment: Decimal = Decimal(0)
    rates: tuple[tuple[str, Decimal], ...] = ()
    overage_rate: Decimal | None = None
    currency: str = "EUR"
    starts_on: date | None = None
    ends_on: date | None = None
    budget_exempt_tiers: frozenset[str] = frozenset()
    inference_requests_per_min: int | None = None
    inference_tokens_per_min: int | None = None

    def __post_init__(self) -> None:
        if self.guaranteed_gpus < 0:
            raise ValueError("guaranteed_gpus must be >= 0")
        if self.weight <= 0:
            raise ValueError("weight must be > 0")
        if self.borrow_cap is not None and self.borrow_cap < 0:
            raise ValueError("borrow_cap must be >= 0 or None")
        _check_commercial(self)

    def rate(self, tier: str) -> Decimal | None:
        return dict(self.rates).get(tier)

    def in_force(self, first: date, last: date) -> bool:
        """Whether the term overlaps the days [first, last]."""
        return (self.starts_on is None or self.starts_on <= last) and (self.ends_on is None or self.ends_on >= first)


def _check_commercial(c: Contract) -> None:
    if c.currency != "EUR":
        raise ValueError(f"currency: only EUR is supported, not '{c.currency}'")
    if c.monthly_commitment < 0:
        raise ValueError("monthly_commitment must be >= 0")
    for tier, price in c.rates:
        if tier not in TIER_NAMES:
            raise ValueError(f"rates: unknown tier '{tier}' (one of {', '.join(TIER_NAMES)})")
        if price < 0:
            raise ValueError(f"rates.{tier} must be >= 0")
    if c.monthly_commitment > 0 and not c.rate("priority"):
        raise ValueError("rates.priority: a monthly commitment needs the priority rate that draws it down")
    if c.overage_rate is not None and c.overage_rate < 0:
        raise ValueError("overage_rate must be >= 0")
    if c.starts_on and c.ends_on and c.ends_on < c.starts_on:
        raise ValueError("ends_on must not be before starts_on")
    for name in ("inference_requests_per_min", "inference_tokens_per_min"):
        limit = getattr(c, name)
        if limit is not None and limit < 1:
            raise ValueError(f"{name} must be >= 1 (or unset: the operator's default)")
    unknown = set(c.budget_exempt_tiers) - set(TIER_NAMES)
    if unknown:
        raise ValueError(f"budget_exempt_tiers: unknown tier '{sorted(unknown)[0]}'")


def inference_limits(contracts: Iterable[Contract], today: date) -> tuple[int | None, int | None]:
    """An org's gateway limits (requests, tokens per minute) from its contracts in force today: the
    fleet-wide contract's when it sets one, else the largest a site contract sets (None: unset)."""
    live = [c for c in contracts if c.in_force(today, today)]

    def pick(name: str) -> int | None:
        values = [(c.site is None, getattr(c, name)) for c in live if getattr(c, name) is not None]
        return max(values)[1] if values else None

    return pick("inference_requests_per_min"), pick("inference_tokens_per_min")


def rates_of(mapping: Mapping[str, Decimal]) -> tuple[tuple[str, Decimal], ...]:
    return tuple(sorted(mapping.items()))


@dataclass(frozen=True, slots=True)
class ContractRecord:
    """A contract as stored: its terms, when an operator last set them, and the org's contract
    version they belong to (every change of an org's contracts is a new version)."""

    terms: Contract
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """One version of an org's contracts, kept whole (what was in force, who changed it, when)."""

    version: int
    changed_by: str
    at: datetime
    contracts: tuple[Contract, ...]


@dataclass(frozen=True, slots=True)
class CommercialTerms:
    """What billing reads of an org's contracts in force in a month (built by `commercial_terms`).

    The commitment is the sum of the contracts' commitments; a usage line's rate is the agreed
    rate of the contract for its site, else of the fleet-wide contract, else the list price.
    """

    version: int
    monthly_commitment: Decimal
    priority_rate: Decimal | None  # rate that draws down the commitment
    overage_rate: Decimal | None
    site_rates: tuple[tuple[str | None, str, Decimal], ...]  # (site or None, tier, rate)
    budget_exempt_tiers: frozenset[str]

    def rate(self, tier: str, site: str | None) -> Decimal | None:
        found = {(s, t): r for s, t, r in self.site_rates}
        return found.get((site, tier), found.get((None, tier)))

    @property
    def overage(self) -> Decimal:
        return self.overage_rate if self.overage_rate is not None else (self.priority_rate or Decimal(0))

    @property
    def covered_gpu_seconds(self) -> Decimal:
        rate = self.priority_rate
        return self.monthly_commitment * 3600 / rate if rate else Decimal(0)


def commercial_terms(version: int, contracts: Iterable[Contract], first: date, last: date) -> CommercialTerms | None:
    """Fold an org's contracts in force between `first` and `last` (None: no commercial terms)."""
    live = [c for c in contracts if c.in_force(first, last)]
    if not any(c.rates or c.monthly_commitment or c.budget_exempt_tiers for c in live):
        return None
    wide = [c for c in live if c.site is None]
    rated = [c for c in wide + live if c.rate("priority")]
    priority = rated[0].rate("priority") if rated else None
    overage = next((c.overage_rate for c in wide + live if c.overage_rate is not None), None)
    rates = tuple((c.site, t, r) for c in live for t, r in c.rates)
    exempt = frozenset(t for c in live for t in c.budget_exempt_tiers)
    total = sum((c.monthly_commitment for c in live), Decimal(0))
    return CommercialTerms(version, total, priority, overage, rates, exempt)


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
    # (project id, GPUs of the guarantee kept for that project's priority work), counted fleet-wide
    project_shares: tuple[tuple[str, int], ...] = ()

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
    # (tenant, project id, GPUs): a project's guaranteed share of its tenant's guarantee
    project_shares: tuple[tuple[str, str, int], ...] = ()
    _terms: dict[str, TenantTerms] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_tenant: dict[str, list[Contract]] = {}
        for c in self.contracts:
            by_tenant.setdefault(c.tenant, []).append(c)
        for tenant, items in by_tenant.items():
            self._terms[tenant] = _fold(tenant, items, self.default, self._shares(tenant))

    @classmethod
    def of(
        cls,
        contracts: Iterable[Contract],
        default: Contract | None = None,
        project_shares: Iterable[tuple[str, str, int]] = (),
    ) -> ContractBook:
        shares = tuple(sorted(x for x in project_shares if x[2] > 0))
        return cls(contracts=tuple(contracts), default=default or Contract(tenant="*"), project_shares=shares)

    def terms(self, tenant: str) -> TenantTerms:
        found = self._terms.get(tenant)
        if found is None:
            found = _fold(tenant, [], self.default, self._shares(tenant))
            self._terms[tenant] = found
        return found

    def _shares(self, tenant: str) -> list[tuple[str, int]]:
        return [(project, gpus) for t, project, gpus in self.project_shares if t == tenant]


def _fold(tenant: str, items: list[Contract], default: Contract, shares: list[tuple[str, int]]) -> TenantTerms:
    wide = [c for c in items if c.site is None]
    base = wide[0] if wide else (items[0] if items else default)
    sites: dict[str, int] = {}
    for c in items:
        if c.site is not None:
            sites[c.site] = sites.get(c.site, 0) + c.guaranteed_gpus
    guarantee = sum(c.guaranteed_gpus for c in wide)
    total = guarantee + sum(sites.values())
    return TenantTerms(
        tenant=tenant,
        guarantee=guarantee,
        site_guarantees=tuple(sorted(sites.items())),
        weight=base.weight,
        may_borrow=base.may_borrow,
        borrow_cap=base.borrow_cap,
        total_guarantee=total,
        project_shares=_within(shares, total),
    )


def _within(shares: list[tuple[str, int]], guarantee: int) -> tuple[tuple[str, int], ...]:
    """The shares that fit the guarantee (a contract cut below its projects' shares cuts the last ones)."""
    kept: list[tuple[str, int]] = []
    for project, gpus in shares:
        take = min(gpus, guarantee)
        if take > 0:
            kept.append((project, take))
        guarantee -= take
    return tuple(kept)


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
