"""The web console at /console/ and the API docs at /docs and /redoc, all served from the package.

Pages are server-rendered (Jinja2) and call the same services, through the same `api.deps`
functions and the same authorization, as the API. Nothing is loaded from another origin: a strict
Content-Security-Policy would block it (docs/console.md).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    app.add_middleware(_SecurityHeaders)


class _SecurityHeaders:
    """Pure ASGI (no task group per request): console and docs responses get their headers; every
    other request passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.startswith("/console") or path in ("/docs", "/redoc")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _secure(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure(headers: MutableHeaders, path: str) -> None:
    if path.startswith("/console"):  # a route with a stricter policy of its own keeps it
        headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    else:
        headers["Content-Security-Policy"] = DOCS_CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    if not path.startswith("/console/static"):
        headers["Cache-Control"] = "no-store"  # pages show tenant data
