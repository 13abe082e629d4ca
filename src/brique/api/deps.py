"""Request dependencies: the runtime's services and the authenticated principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from brique.domain.tenancy import Principal
from brique.services.agents import AgentService
from brique.services.billing import BillingService
from brique.services.budgets import BudgetService
from brique.services.contracts import ContractService
from brique.services.fleet import FleetService
from brique.services.health import HealthService
from brique.services.jobs import JobService
from brique.services.metering import MeteringService
from brique.services.registry import Inference, Services, Sovereignty
from brique.services.replicas import Leadership
from brique.services.tenancy import TenancyService
from brique.workers.scheduler_loop import SchedulerLoop

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="an API key: `brq_…`")


def services(request: Request) -> Services:
    return request.app.state.services


def scheduler_loop(request: Request) -> SchedulerLoop:
    """This replica's scheduling loop (whether it leads, its cycle history)."""
    return request.app.state.loop


def health_service(request: Request) -> HealthService:
    return services(request).health


def fleet_service(request: Request) -> FleetService:
    return services(request).fleet


def tenancy_service(request: Request) -> TenancyService:
    return services(request).tenancy


def agent_service(request: Request) -> AgentService:
    return services(request).agents


def contract_service(request: Request) -> ContractService:
    return services(request).contracts


def job_service(request: Request) -> JobService:
    return services(request).jobs


def metering_service(request: Request) -> MeteringService:
    return services(request).metering


def billing_service(request: Request) -> BillingService:
    return services(request).billing


def budget_service(request: Request) -> BudgetService:
    return services(request).budgets


async def principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """A key verified a moment ago is answered from memory on the event loop; any other is
    verified against the database in a worker thread."""
    token = creds.credentials if creds else request.headers.get("x-api-key")
    return await principal_of(request, services(request).tenancy, token)


async def principal_of(request: Request, tenancy: TenancyService, token: str | None) -> Principal:
    """The caller holding `token` (`Unauthenticated` if none or unknown), kept on the request for the audit
    middleware."""
    who = tenancy.cached(token) or await run_in_threadpool(tenancy.authenticate, token)
    request.state.principal = who
    return who


def replicas(request: Request) -> Leadership:
    return services(request).replicas
def inference(request: Request) -> Inference:
    return services(request).inference


def sovereignty(request: Request) -> Sovereignty:
    return services(request).sovereignty


def _inline(get: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    """`get` as a dependency run on the event loop: FastAPI sends a plain `def` dependency to a
    worker thread, a thread hop per request for what is an attribute read."""

    async def dependency(request: Request) -> T:
        return get(request)

    return dependency


Caller = Annotated[Principal, Depends(principal)]
Fleet = Annotated[FleetService, Depends(_inline(fleet_service))]
Tenancy = Annotated[TenancyService, Depends(_inline(tenancy_service))]
Jobs = Annotated[JobService, Depends(_inline(job_service))]
Contracts = Annotated[ContractService, Depends(_inline(contract_service))]
Agents = Annotated[AgentService, Depends(_inline(agent_service))]
Metering = Annotated[MeteringService, Depends(_inline(metering_service))]
Billing = Annotated[BillingService, Depends(_inline(billing_service))]
Budgets = Annotated[BudgetService, Depends(_inline(budget_service))]
Sov = Annotated[Sovereignty, Depends(_inline(sovereignty))]
Replicas = Annotated[Leadership, Depends(_inline(replicas))]
InferenceDep = Annotated[Inference, Depends(_inline(inference))]
