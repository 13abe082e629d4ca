"""Budgets in the console: set one (organization-wide or per project) and delete it, through the same
budget service and rules as `PUT/DELETE /v1/orgs/{org}/budgets`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response

from brique.api import deps
from brique.api.console.web import ConsoleRoute, Posted, back_to
from brique.schemas.billing import BudgetRequest

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _usage_page(org: str | None) -> str:
    return "/console/usage" + (f"?org={quote(org)}" if org else "")


def _thresholds(text: str) -> list[object] | None:
    """'50, 80, 100' as numbers for the strict model; text that is not one goes on for its message."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    return [int(p) if p.isdigit() else p for p in parts]


@router.post("/budgets", operation_id="consoleSetBudget")
def set_budget(
    request: Request, viewer: Posted,
    amount: Annotated[str, Form(max_length=30)] = "",
    project: Annotated[str, Form(max_length=100)] = "",
    thresholds: Annotated[str, Form(max_length=100)] = "",
    hard_stop: Annotated[str, Form(max_length=5)] = "",
    org: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    doc: dict[str, object] = {"amount": amount.strip(), "project": project.strip() or None,
                              "hard_stop": hard_stop == "on"}  # fmt: skip
    if (levels := _thresholds(thresholds)) is not None:
        doc["thresholds"] = levels
    body = BudgetRequest.model_validate(doc)  # the API's rules; a refusal is the 422 page with its message
    deps.budget_service(request).set(viewer.who, org or None, body.project, body.amount, body.thresholds,
                                     body.hard_stop, None)  # fmt: skip
    return back_to(_usage_page(org or None))


@router.post("/budgets/delete", operation_id="consoleDeleteBudget")
def delete_budget(
    request: Request, viewer: Posted,
    project: Annotated[str, Form(max_length=100)] = "",
    org: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    deps.budget_service(request).delete(viewer.who, org or None, project.strip() or None)
    return back_to(_usage_page(org or None))
