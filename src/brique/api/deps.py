"""Request dependencies: the runtime's services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from brique.domain.tenancy import Principal
from brique.services.agents import AgentService
from brique.services.billing import BillingService
from brique.services.budgets import BudgetService
from brique.services.contracts import ContractService
from brique.services.fleet import FleetService
from brique.services.jobs import JobService
from brique.services.metering import MeteringService
from brique.services.runtime import Runtime, Sovereignty
from brique.services.tenancy import TenancyService

bearer = HTTPBearer(auto_error=False, description="an API key: `brq_…`")


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def fleet_service(request: Request) -> FleetService:
    return runtime(request).fleet


def tenancy_service(request: Request) -> TenancyService:
    return runtime(request).tenancy


def agent_service(request: Request) -> AgentService:
    return runtime(request).agents


def contract_service(request: Request) -> ContractService:
    return runtime(request).contracts


def job_service(request: Request) -> JobService:
    return runtime(request).jobs


def metering_service(request: Request) -> MeteringService:
    rt = runtime(request)
    assert rt.metering is not None
    return rt.metering


def billing_service(request: Request) -> BillingService:
    rt = runtime(request)
    assert rt.billing is not None
    return rt.billing


def budget_service(request: Request) -> BudgetService:
    rt = runtime(request)
    assert rt.budgets is not None
    return rt.budgets


def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    token = creds.credentials if creds else request.headers.get("x-api-key")
    who = runtime(request).tenancy.authenticate(token)
    request.state.principal = who  # for the audit middleware
    return who


def sovereignty(request: Request) -> Sovereignty:
    return runtime(request).sovereignty


Caller = Annotated[Principal, Depends(principal)]
Fleet = Annotated[FleetService, Depends(fleet_service)]
Tenancy = Annotated[TenancyService, Depends(tenancy_service)]
Jobs = Annotated[JobService, Depends(job_service)]
Contracts = Annotated[ContractService, Depends(contract_service)]
Agents = Annotated[AgentService, Depends(agent_service)]
Metering = Annotated[MeteringService, Depends(metering_service)]
Billing = Annotated[BillingService, Depends(billing_service)]
Budgets = Annotated[BudgetService, Depends(budget_service)]
Sov = Annotated[Sovereignty, Depends(sovereignty)]
