"""The FastAPI application: routers under /v1, one error mapping, metrics, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from brique import __version__
from brique.api import console
from brique.api import gateway as inference_gateway
from brique.api.audit import AuditMiddleware
from brique.api.errors import ERROR_RESPONSES, install_error_handlers
from brique.api.fast_submit import FastSubmit
from brique.api.limits import BodyLimit
from brique.api.metrics import Metrics
from brique.api.routers import (
    agents,
    billing,
    budgets,
    contracts,
    deployments,
    fleet,
    health,
    invoices,
    jobs,
    keys,
    orgs,
    projects,
    reservations,
    sovereignty,
    system,
    usage,
)
from brique.api.throttle import SubmitThrottle
from brique.api.trail import Trail
from brique.clock import Clock
from brique.config import Settings
from brique.schemas.jobs import JobSubmitRequest
from brique.services.registry import Services
from brique.workers.inference_loop import InferenceLoop
from brique.workers.scheduler_loop import SchedulerLoop

REF_TEMPLATE = "#/components/schemas/{model}"
DESCRIPTION = """Brique: an open-source control plane for a sovereign AI compute cloud.

Authenticate every `/v1` call with `Authorization: Bearer <API key>`.
Errors are `{"error": {"code", "message", "field"?}}`."""


CONSOLE_COOKIE_KEY = "console-cookies"


class AppRuntime(Protocol):
    """What the API needs of a built control plane (`brique.server.runtime.Runtime` is one)."""

    services: Services
    loop: SchedulerLoop
    startup_s: float
    clock: Clock
    settings: Settings


def create_app(rt: AppRuntime, *, run_scheduler: bool = True) -> FastAPI:
    """The API over `rt`; with `run_scheduler`, the scheduling loop runs while the app is up."""

    inference_loop = InferenceLoop(rt.services.inference)
    gateway = inference_gateway.Gateway(rt.services.inference, rt.clock, inference_loop.wake)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_scheduler:
            rt.loop.start()
            inference_loop.start()
        try:
            yield
        finally:
            rt.loop.stop()
            inference_loop.stop()
            await gateway.close()

    app = FastAPI(title="Brique", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served offline by the console  # fmt: skip
    app.state.services = rt.services
    app.state.inference_loop = inference_loop  # tests step it by hand when the loops do not run
    app.state.metrics = Metrics(rt.services, rt.loop, rt.startup_s)
    app.state.loop = rt.loop
    install_error_handlers(app)
    _declare_models(app, JobSubmitRequest)
    app.include_router(health.router)
    for router in (  # matched in this order: the busiest (submissions) first
        jobs.router,
        fleet.router,
        orgs.router,
        keys.router,
        contracts.router,
        agents.router,
        usage.router,
        billing.router,
        budgets.router,
        sovereignty.router,
        system.router,
        deployments.router,
        reservations.router,
        projects.router,
        invoices.router,
    ):
        app.include_router(router, responses=ERROR_RESPONSES)
    # inside every middleware below (audit trail, body limit, throttle), outside FastAPI's router
    app.add_middleware(FastSubmit, jobs=rt.services.jobs, tenancy=rt.services.tenancy)
    console.mount(app, rt.clock, rt.settings.console_session_minutes, rt.settings.oidc_providers,
                  rt.services.sovereignty.secrets.platform_key(CONSOLE_COOKIE_KEY))  # fmt: skip
    app.add_middleware(Trail, metrics=app.state.metrics,
                       audit=AuditMiddleware(rt.services.sovereignty.audit, rt.services.tenancy.org_id_of))  # fmt: skip
    app.add_middleware(BodyLimit, limit=rt.settings.max_request_bytes)  # before any parsing
    app.add_middleware(SubmitThrottle, tenancy=rt.services.tenancy, jobs=rt.services.jobs)  # outermost: cheapest 429
    # The gateway is its own small app in front of everything: per-call audit records, request ids and
    # body buffering would add milliseconds to every token served (its calls are metered instead).
    app.add_middleware(inference_gateway.Dispatch, gateway=inference_gateway.app(gateway))
    return app


def _declare_models(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add models that operations reference by hand (the YAML-or-JSON job body) to the
    document's components, so every `$ref` resolves."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        doc = original()
        _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
        for name, schema in defs.get("$defs", {}).items():
            doc.setdefault("components", {}).setdefault("schemas", {}).setdefault(name, schema)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
