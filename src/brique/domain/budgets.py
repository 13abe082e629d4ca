"""Budgets: a monthly EUR amount per org or project, alert thresholds, an optional hard stop.

Spend is the month-to-date usage charges before VAT, without the contract commitment (see
`Invoice.spend`): for a project, its usage lines; for the org, its usage lines and overage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from brique.domain.invoices import cents

DEFAULT_THRESHOLDS = (50, 80, 100)


@dataclass(frozen=True, slots=True)
class BudgetTerms:
    amount: Decimal  # EUR per calendar month (UTC)
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # percent of the amount
    hard_stop: bool = False  # refuse new standard-tier jobs once spend >= amount

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("amount must be > 0")
        if any(t <= 0 or t > 1000 for t in self.thresholds):
            raise ValueError("thresholds are percents in (0, 1000]")


@dataclass(frozen=True, slots=True)
class Budget:
    """A monthly EUR budget of an org (`project_id` None) or one of its projects, as stored.

    The terms are checked when read (`terms` raises ValueError), so one bad stored row can be
    skipped by the loops that read every org's budgets instead of failing them all."""

    id: int
    org_id: str
    project_id: str | None
    amount: Decimal
    thresholds: tuple[int, ...]
    hard_stop: bool
    webhook_url: str | None
    created_by: str
    updated_at: datetime
    currency: str = "EUR"

    @property
    def terms(self) -> BudgetTerms:
        return BudgetTerms(self.amount, self.thresholds, self.hard_stop)


def percent_used(spent: Decimal, amount: Decimal) -> Decimal:
    return cents(spent * 100 / amount)


def crossed(spent: Decimal, terms: BudgetTerms, already: Iterable[int]) -> list[int]:
    """Thresholds reached by `spent` that have not been alerted yet, lowest first."""
    done = set(already)
    return [t for t in sorted(set(terms.thresholds)) if t not in done and spent * 100 >= terms.amount * t]


def exceeded(spent: Decimal, terms: BudgetTerms) -> bool:
    return spent >= terms.amount


def normalize_thresholds(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values))) or DEFAULT_THRESHOLDS


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold of a budget reached in a month: recorded once, listed by the tenant."""

    id: int
    budget_id: int
    org_id: str
    project_id: str | None
    month: str
    threshold: int
    spent: Decimal
    amount: Decimal
    at: datetime
    message: str
    webhook_status: str | None = None
