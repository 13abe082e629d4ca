"""Every state-changing API call, and every refused read, goes to the audit log: who, which org,
what, outcome, request id. Called by the request trail (`api/trail.py`) as the response starts."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import Scope

from brique.domain.tenancy import Principal
from brique.services.audit import AuditLog, Entry

log = logging.getLogger("brique.audit")

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUIET = ("/v1/agent/heartbeat",)  # reports, not changes of intent; their effects are audited as decisions
AUDITED = "audited"  # request state: the handler already wrote this request's record in its transaction


def request_entry(scope: Scope, who: Principal | None, outcome: str, org_id: str | None = None) -> Entry:
    """The audit record of one API call (the same whether the trail or the handler writes it)."""
    route = scope.get("route")
    return Entry(
        actor=who.user_id if who else "anonymous",
        org_id=org_id,
        action=getattr(route, "operation_id", None) or "unmatched",
        object=Request(scope).url.path,
        outcome=outcome,
        request_id=scope.get("state", {}).get("request_id"),
        details={"method": scope["method"]},
    )  # fmt: skip


class AuditMiddleware:
    def __init__(self, audit: AuditLog, org_id_of: Callable[[str], str | None]) -> None:
        self.audit = audit
        self.org_id_of = org_id_of  # resolves an org named in the path to its id

    async def after(self, scope: Scope, status: int) -> None:
        """Record the call if it is audited, once its status is known."""
        refused_read = status == 403  # a refused read of tenant data is audited too
        # a 429 changed nothing; writing an audit record per refusal would let a flooding tenant take
        # the write lock others need (rate-limited requests must stay cheap)
        audited = scope["method"] in WRITES or refused_read
        if not audited or status == 429 or scope["path"].startswith(QUIET):
            return
        if scope.get("state", {}).get(AUDITED):
            return
        try:
            await run_in_threadpool(self._record, scope, status)
        except Exception:  # the action is done; a failed audit write is logged, never turned into a 500
            log.exception("audit record of %s %s failed", scope["method"], scope["path"])

    def _record(self, scope: Scope, status: int) -> None:
        who = scope.get("state", {}).get("principal")
        org = who.org_id if who and who.org_id else None
        ref = scope.get("path_params", {}).get("org")
        if org is None and ref:
            org = self.org_id_of(ref)
        self.audit.record(request_entry(scope, who, str(status), org))
