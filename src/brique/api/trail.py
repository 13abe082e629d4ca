"""Every request's trail in one pure-ASGI pass: its request id, its metrics and, for a change (or a
refused read), its audit record.

One middleware instead of three `BaseHTTPMiddleware`s: those each ran the rest of the app in a task
group with a streamed copy of the response, a large share of a small request's CPU. The audit record
is written when the application starts its response, before the client sees it (as before). A
handler that wrote its own record inside its transaction (a job submission) marks the request
`audited`, and nothing more is written for it.
"""

from __future__ import annotations

import re
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brique.api.audit import AuditMiddleware
from brique.api.metrics import Metrics

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a client's own id is echoed only if it is sane


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if REQUEST_ID.match(given):
                return given
            break
    return f"req_{secrets.token_hex(8)}"


class Trail:
    def __init__(self, app: ASGIApp, metrics: Metrics, audit: AuditMiddleware) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_trail(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
                await self.audit.after(scope, message["status"])
                # latency to the response's start, as before (a followed log stream is not one long request)
                self.metrics.observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, send_with_trail)
