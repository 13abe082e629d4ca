"""Every state-changing API call, and every refused read, goes to the audit log: who, which org,
what, outcome, request id."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from brique.services.audit import AuditLog, Entry

log = logging.getLogger("brique.audit")

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUIET = ("/v1/agent/heartbeat",)  # reports, not changes of intent; their effects are audited as decisions


class AuditMiddleware:
    def __init__(self, audit: AuditLog, org_id_of: Callable[[str], str | None]) -> None:
        self.audit = audit
        self.org_id_of = org_id_of  # resolves an org named in the path to its id

    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        refused_read = response.status_code == 403  # a refused read of tenant data is audited too
        # a 429 changed nothing; writing an audit record per refusal would let a flooding tenant take
        # the write lock others need (rate-limited requests must stay cheap)
        audited = request.method in WRITES or refused_read
        if audited and response.status_code != 429 and not request.url.path.startswith(QUIET):
            try:
                await run_in_threadpool(self._record, request, response)
            except Exception:  # the action is done; a failed audit write is logged, never turned into a 500
                log.exception("audit record of %s %s failed", request.method, request.url.path)
        return response

    def _record(self, request: Request, response: Response) -> None:
        who = getattr(request.state, "principal", None)
        route = request.scope.get("route")
        org = who.org_id if who and who.org_id else None
        ref = request.path_params.get("org")
        if org is None and ref:
            org = self.org_id_of(ref)
        self.audit.record(Entry(
            actor=who.user_id if who else "anonymous",
            org_id=org,
            action=getattr(route, "operation_id", None) or "unmatched",
            object=request.url.path,
            outcome=str(response.status_code),
            request_id=getattr(request.state, "request_id", None),
            details={"method": request.method},
        ))  # fmt: skip
