"""Budgets and the alerts they raised."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from brique.domain.budgets import Budget, BudgetAlert, BudgetTerms
from brique.store.billing_tables import BudgetAlertRow, BudgetRow


def _row(session: Session, org_id: str, project_id: str | None) -> BudgetRow | None:
    q = select(BudgetRow).where(BudgetRow.org_id == org_id)
    q = q.where(BudgetRow.project_id.is_(None) if project_id is None else BudgetRow.project_id == project_id)
    return session.scalars(q.order_by(BudgetRow.id)).first()


def find(session: Session, org_id: str, project_id: str | None) -> Budget | None:
    row = _row(session, org_id, project_id)
    return None if row is None else budget_row_to_domain(row)


def upsert(
    session: Session, org_id: str, project_id: str | None, terms: BudgetTerms, webhook_url: str | None,
    created_by: str, now: datetime,
) -> Budget:  # fmt: skip
    """Set the budget of the org (project None) or project, creating it if it has none."""
    row = _row(session, org_id, project_id)
    if row is None:
        row = BudgetRow(org_id=org_id, project_id=project_id)
        session.add(row)
    row.amount, row.currency, row.thresholds = terms.amount, "EUR", list(terms.thresholds)
    row.hard_stop, row.webhook_url, row.created_by, row.updated_at = terms.hard_stop, webhook_url, created_by, now
    session.flush()
    return budget_row_to_domain(row)


def delete(session: Session, org_id: str, project_id: str | None) -> bool:
    """Delete the budget; False when there was none."""
    row = _row(session, org_id, project_id)
    if row is None:
        return False
    session.delete(row)
    return True


_BUDGETS = BudgetRow.__table__
_HARD_STOP_SCOPES = select(_BUDGETS.c.project_id).where(
    _BUDGETS.c.org_id == bindparam("org_id"), _BUDGETS.c.hard_stop.is_(True)
)


def hard_stop_scopes(session: Session, org_id: str) -> list[str | None]:
    """The scopes of an org's hard-stop budgets (None: the whole org). Read on every submission, so
    a Core select built once, not an ORM load: most orgs have none and the check ends here."""
    return [r[0] for r in session.connection().execute(_HARD_STOP_SCOPES, {"org_id": org_id})]


_FOR_ORG = select(BudgetRow).where(BudgetRow.org_id == bindparam("org_id")).order_by(BudgetRow.project_id, BudgetRow.id)


def for_org(session: Session, org_id: str) -> list[Budget]:
    return [budget_row_to_domain(r) for r in session.scalars(_FOR_ORG, {"org_id": org_id})]


def all_budgets(session: Session) -> list[Budget]:
    return [budget_row_to_domain(r) for r in session.scalars(select(BudgetRow).order_by(BudgetRow.org_id, BudgetRow.id))]


def alerted(session: Session, budget_id: int, month: str) -> set[int]:
    q = select(BudgetAlertRow.threshold).where(BudgetAlertRow.budget_id == budget_id,
                                               BudgetAlertRow.month == month)  # fmt: skip
    return set(session.scalars(q))


def add_alert(
    session: Session, budget: Budget, month: str, threshold: int, spent: Decimal, at: datetime, message: str
) -> BudgetAlert:
    """Record a threshold reached (unique per budget, month and threshold: a second raises Duplicate)."""
    row = BudgetAlertRow(budget_id=budget.id, org_id=budget.org_id, project_id=budget.project_id, month=month,
                         threshold=threshold, spent=spent, amount=budget.amount, at=at, message=message)  # fmt: skip
    session.add(row)
    session.flush()
    return alert_row_to_domain(row)


def set_webhook_status(session: Session, alert_id: int, status: str) -> None:
    row = session.get(BudgetAlertRow, alert_id)
    if row is not None:
        row.webhook_status = status[:200]


def alerts(session: Session, org_id: str | None, limit: int) -> list[BudgetAlert]:
    q = select(BudgetAlertRow).order_by(BudgetAlertRow.id.desc()).limit(limit)
    if org_id is not None:
        q = q.where(BudgetAlertRow.org_id == org_id)
    return [alert_row_to_domain(a) for a in session.scalars(q)]


def budget_row_to_domain(r: BudgetRow) -> Budget:
    return Budget(id=r.id, org_id=r.org_id, project_id=r.project_id, amount=Decimal(r.amount),
                  thresholds=tuple(r.thresholds), hard_stop=r.hard_stop, webhook_url=r.webhook_url,
                  created_by=r.created_by, updated_at=r.updated_at, currency=r.currency)  # fmt: skip


def alert_row_to_domain(a: BudgetAlertRow) -> BudgetAlert:
    return BudgetAlert(id=a.id, budget_id=a.budget_id, org_id=a.org_id, project_id=a.project_id, month=a.month,
                       threshold=a.threshold, spent=a.spent, amount=a.amount, at=a.at, message=a.message,
                       webhook_status=a.webhook_status)  # fmt: skip
