"""The FastAPI application: routers under /v1, one error mapping, metrics, request ids."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from brique import __version__
from brique.api import console
from brique.api.audit import AuditMiddleware
from brique.api.errors import install_error_handlers
from brique.api.metrics import Metrics
from brique.api.routers import (
    agents,
    billing,
    budgets,
    contracts,
    fleet,
    health,
    jobs,
    keys,
    orgs,
    sovereignty,
    usage,
)
from brique.services.runtime import Runtime

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a client's own id is echoed only if it is sane
DESCRIPTION = """Brique: an open-source control plane for a sovereign AI compute cloud.

Authenticate every `/v1` call with `Authorization: Bearer <API key>`.
Errors are `{"error": {"code", "message", "field"?}}`."""


def create_app(rt: Runtime, *, run_scheduler: bool = True) -> FastAPI:
    """The API over `rt`; with `run_scheduler`, the scheduling loop runs while the app is up."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_scheduler:
            rt.loop.start()
        try:
            yield
        finally:
            rt.loop.stop()

    app = FastAPI(title="Brique", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served offline by the console  # fmt: skip
    app.state.runtime = rt
    app.state.metrics = Metrics(rt)
    install_error_handlers(app)
    for router in (
        health.router,
        fleet.router,
        orgs.router,
        keys.router,
        jobs.router,
        contracts.router,
        agents.router,
        usage.router,
        billing.router,
        budgets.router,
        sovereignty.router,
    ):
        app.include_router(router)
    console.mount(app, rt.clock, rt.settings.console_session_minutes, rt.settings.oidc_providers)
    app.middleware("http")(AuditMiddleware(rt.sovereignty.audit, rt.tenancy.org_id_of))
    app.middleware("http")(app.state.metrics.middleware)
    app.middleware("http")(_request_id)
    return app


async def _request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    given = request.headers.get("x-request-id", "")
    rid = given if REQUEST_ID.match(given) else f"req_{secrets.token_hex(8)}"
    request.state.request_id = rid
    response = await call_next(request)
    response.headers["X-Request-ID"] = rid
    return response
