"""A tenant's sovereignty page: its residency policy, its secrets (names only; set and delete), and the
signed evidence report to download."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from brique.api import deps
from brique.api.console.web import ConsoleRoute, Posted, SignedIn, back_to, page
from brique.errors import InvalidInput

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _org(viewer) -> str:  # type: ignore[no-untyped-def]
    if viewer.who.org_id is None:
        raise InvalidInput("this page is a tenant's; operators use the API with ?org=", field="org")
    return viewer.who.org_id


@router.get("/sovereignty", operation_id="consoleSovereignty")
def sovereignty_page(request: Request, viewer: SignedIn) -> Response:
    sov = deps.sovereignty(request)
    org = _org(viewer)
    own, effective = sov.residency.get(viewer.who, org, None)
    secrets = sov.secrets.names(viewer.who, org)
    today = sov.audit.clock.now().date()
    return page(request, "sovereignty.html", viewer, own=own, policy=effective, secrets=secrets,
                may_manage=viewer.who.role == "tenant-admin", since=today.replace(day=1), until=today + timedelta(days=1))  # fmt: skip


@router.post("/secrets", operation_id="consolePutSecret")
def put_secret(request: Request, viewer: Posted, name: Annotated[str, Form(max_length=100)],
               value: Annotated[str, Form(max_length=65_536)]) -> Response:  # fmt: skip
    deps.sovereignty(request).secrets.put(viewer.who, _org(viewer), name.strip(), value)
    return back_to("/console/sovereignty")


@router.post("/secrets/{name}/delete", operation_id="consoleDeleteSecret")
def delete_secret(request: Request, name: str, viewer: Posted) -> Response:
    deps.sovereignty(request).secrets.delete(viewer.who, _org(viewer), name)
    return back_to("/console/sovereignty")


@router.get("/sovereignty/report", operation_id="consoleEvidenceReport")
def evidence(request: Request, viewer: SignedIn, since: Annotated[datetime, Query(alias="from")],
             until: Annotated[datetime, Query(alias="to")]) -> Response:  # fmt: skip
    """The same signed report as `brique sovereignty report`, to check offline with `sovereignty verify`."""
    report = deps.sovereignty(request).evidence.report(viewer.who, _org(viewer), since, until)
    name = f"brique-evidence-{since:%Y%m%d}-{until:%Y%m%d}.json"
    return Response(json.dumps(report, indent=2, default=str), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
