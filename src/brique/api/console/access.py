"""The lockbox in the console: operators ask for access to a tenant's data (break-glass needs a second
operator), tenant-admins approve, deny or revoke; operators see the audit log's verification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response

from brique.api import deps
from brique.api.console.web import ConsoleRoute, Posted, SignedIn, back_to, page
from brique.api.routers.sovereignty import _access as access_response

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@router.get("/access", operation_id="consoleAccessRequests")
def access_page(request: Request, viewer: SignedIn) -> Response:
    sov = deps.sovereignty(request)
    requests = [access_response(r, sov) for r in sov.lockbox.list(viewer.who, None)]
    audit = sov.audit.verify(viewer.who) if viewer.operator else None
    return page(request, "access.html", viewer, requests=requests, audit=audit,
                may_decide=viewer.who.role == "tenant-admin")  # fmt: skip


@router.post("/access", operation_id="consoleCreateAccessRequest")
def request_access(
    request: Request, viewer: Posted,
    scope: Annotated[Literal["job", "project"], Form()], scope_id: Annotated[str, Form(max_length=100)],
    justification: Annotated[str, Form(max_length=2000)], duration_s: Annotated[int, Form(ge=1)] = 3600,
    break_glass: Annotated[bool, Form()] = False,
) -> Response:  # fmt: skip
    deps.sovereignty(request).lockbox.request(viewer.who, scope, scope_id.strip(), justification, duration_s,
                                              break_glass)  # fmt: skip
    return back_to("/console/access")


@router.post("/access/{request_id}/{action}", operation_id="consoleDecideAccessRequest")
def decide(
    request: Request, request_id: str, action: Literal["approve", "deny", "revoke", "confirm"], viewer: Posted,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:  # fmt: skip
    lockbox = deps.sovereignty(request).lockbox
    if action == "revoke":
        lockbox.revoke(viewer.who, request_id)
    elif action == "confirm":
        lockbox.confirm_break_glass(viewer.who, request_id)
    else:
        lockbox.decide(viewer.who, request_id, action == "approve", reason.strip() or None)
    return back_to("/console/access")
