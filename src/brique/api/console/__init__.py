"""The web console at /console/ and the API docs at /docs and /redoc, all served from the package.

Pages are server-rendered (Jinja2) and call the same services, through the same `api.deps`
functions and the same authorization, as the API. Nothing is loaded from another origin: a strict
Content-Security-Policy would block it (docs/console.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from brique.api.console import access, auth, billing, budgets, docs, logs, operator, sovereignty, tenant
from brique.api.console.web import STATIC, Console
from brique.clock import Clock
from brique.config import OidcProvider

# Console pages: scripts and styles from this origin only, no inline code, no framing.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Swagger UI and ReDoc set element styles and ReDoc searches in a blob: worker; still this origin only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def mount(
    app: FastAPI, clock: Clock, session_minutes: int, providers: list[OidcProvider], cookie_key: bytes
) -> None:
    """`cookie_key` seals session cookies; shared by every replica, so any of them opens a session."""
    app.state.console = Console(clock, timedelta(minutes=session_minutes), providers, cookie_key)
    for router in (
        auth.router,
        tenant.router,
        billing.router,
        budgets.router,
        logs.router,
        operator.router,
        access.router,
        sovereignty.router,
        docs.router,
    ):
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.middleware("http")(_security_headers)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    path = request.url.path
    if path.startswith("/console"):  # a route with a stricter policy of its own keeps it
        response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    elif path in ("/docs", "/redoc"):
        response.headers["Content-Security-Policy"] = DOCS_CSP
    else:
        return response
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if not path.startswith("/console/static"):
        response.headers["Cache-Control"] = "no-store"  # pages show tenant data
    return response
