"""Budgets and the alerts they raised."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from brique.domain.budgets import BudgetAlert
from brique.store.billing_tables import BudgetAlertRow, BudgetRow


def find(session: Session, org_id: str, project_id: str | None) -> BudgetRow | None:
    q = select(BudgetRow).where(BudgetRow.org_id == org_id)
    q = q.where(BudgetRow.project_id.is_(None) if project_id is None else BudgetRow.project_id == project_id)
    return session.scalars(q.order_by(BudgetRow.id)).first()


def for_org(session: Session, org_id: str) -> list[BudgetRow]:
    q = select(BudgetRow).where(BudgetRow.org_id == org_id).order_by(BudgetRow.project_id, BudgetRow.id)
    return list(session.scalars(q))


def all_budgets(session: Session) -> list[BudgetRow]:
    return list(session.scalars(select(BudgetRow).order_by(BudgetRow.org_id, BudgetRow.id)))


def alerted(session: Session, budget_id: int, month: str) -> set[int]:
    q = select(BudgetAlertRow.threshold).where(BudgetAlertRow.budget_id == budget_id,
                                               BudgetAlertRow.month == month)  # fmt: skip
    return set(session.scalars(q))


def alerts(session: Session, org_id: str | None, limit: int) -> list[BudgetAlertRow]:
    q = select(BudgetAlertRow).order_by(BudgetAlertRow.id.desc()).limit(limit)
    if org_id is not None:
        q = q.where(BudgetAlertRow.org_id == org_id)
    return list(session.scalars(q))


def alert_row_to_domain(a: BudgetAlertRow) -> BudgetAlert:
    return BudgetAlert(id=a.id, budget_id=a.budget_id, org_id=a.org_id, project_id=a.project_id, month=a.month,
                       threshold=a.threshold, spent=a.spent, amount=a.amount, at=a.at, message=a.message,
                       webhook_status=a.webhook_status)  # fmt: skip
