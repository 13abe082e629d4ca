"""Every state-changing API call goes to the audit log: who, which org, what, outcome, request id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from brique.services.audit import AuditLog, Entry

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUIET = ("/v1/agent/heartbeat",)  # reports, not changes of intent; their effects are audited as decisions


class AuditMiddleware:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        if request.method in WRITES and not request.url.path.startswith(QUIET):
            await run_in_threadpool(self.audit.record, self._entry(request, response))
        return response

    @staticmethod
    def _entry(request: Request, response: Response) -> Entry:
        who = getattr(request.state, "principal", None)
        route = request.scope.get("route")
        org = who.org_id if who and who.org_id else request.path_params.get("org")
        return Entry(
            actor=who.user_id if who else "anonymous",
            org_id=org if org is None or org.startswith("org_") else None,
            action=getattr(route, "operation_id", None) or f"{request.method} {request.url.path}",
            object=request.url.path,
            outcome=str(response.status_code),
            request_id=getattr(request.state, "request_id", None),
            details={"org_ref": org} if org and not org.startswith("org_") else {},
        )
