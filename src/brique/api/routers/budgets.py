"""Budgets per organization or project, and the alerts they raised."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from brique.api.deps import Budgets, Caller
from brique.domain.budgets import BudgetAlert
from brique.schemas.billing import BudgetAlertResponse, BudgetRequest, BudgetResponse
from brique.services.budgets import BudgetStatus

router = APIRouter(prefix="/v1/orgs", tags=["budgets"])


def budget_to_response(st: BudgetStatus) -> BudgetResponse:
    b = st.budget
    return BudgetResponse(org_id=b.org_id, project=st.project, amount=b.amount, currency=b.currency,
                          thresholds=list(b.thresholds), hard_stop=b.hard_stop, webhook_url=b.webhook_url,
                          month=st.month, spent=st.spent, percent=st.percent, exceeded=st.exceeded)  # fmt: skip


def alert_to_response(a: BudgetAlert) -> BudgetAlertResponse:
    return BudgetAlertResponse(id=a.id, org_id=a.org_id, project_id=a.project_id, month=a.month,
                               threshold=a.threshold, spent=a.spent, amount=a.amount, at=a.at, message=a.message,
                               webhook_status=a.webhook_status)  # fmt: skip


@router.put("/{org}/budgets", operation_id="setBudget")
def set_budget(org: str, body: BudgetRequest, who: Caller, budgets: Budgets) -> BudgetResponse:
    st = budgets.set(who, org, body.project, body.amount, body.thresholds, body.hard_stop, body.webhook_url)
    return budget_to_response(st)


@router.get("/{org}/budgets", operation_id="listBudgets")
def list_budgets(org: str, who: Caller, budgets: Budgets) -> list[BudgetResponse]:
    return [budget_to_response(st) for st in budgets.list(who, org)]


@router.delete("/{org}/budgets", operation_id="deleteBudget", status_code=204)
def delete_budget(
    org: str, who: Caller, budgets: Budgets,
    project: Annotated[str | None, Query(description="the project's budget; none: the org's")] = None,
) -> None:  # fmt: skip
    budgets.delete(who, org, project)


@router.get("/{org}/budget-alerts", operation_id="listBudgetAlerts")
def list_alerts(
    org: str, who: Caller, budgets: Budgets, limit: Annotated[int, Query(ge=1, le=10_000)] = 200
) -> list[BudgetAlertResponse]:
    return [alert_to_response(a) for a in budgets.alerts(who, org, limit)]
