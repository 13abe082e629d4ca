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
from brique.schemas.sovereignty import PolicyModel

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


def _org(viewer) -> str:  # type: ignore[no-untyped-def]
    if viewer.who.org_id is None:
        raise InvalidInput("this page is a tenant's; operators use the API with ?org=", field="org")
    return viewer.who.org_id


@router.get("/sovereignty", operation_id="consoleSovereignty")
def sovereignty_page(
    request: Request, viewer: SignedIn, narrowed: Annotated[int, Query(ge=0, le=1_000_000)] = 0
) -> Response:
    sov = deps.sovereignty(request)
    org = _org(viewer)
    own, effective = sov.residency.get(viewer.who, org, None)
    secrets = sov.secrets.names(viewer.who, org)
    today = sov.audit.clock.now().date()
    return page(request, "sovereignty.html", viewer, own=own, policy=effective, secrets=secrets,
                may_manage=viewer.who.role == "tenant-admin", narrowed=narrowed, sites=[x.id for x in sov.evidence.fleet.sites], since=today.replace(day=1), until=today + timedelta(days=1))  # fmt: skip


def _codes(text: str, upper: bool) -> list[str]:
    items = [c.strip() for c in text.split(",") if c.strip()]
    return [c.upper() for c in items] if upper else items


@router.post("/policy", operation_id="consoleSetPolicy")
def set_policy(
    request: Request, viewer: Posted,
    countries: Annotated[str, Form(max_length=500)] = "",
    certifications: Annotated[str, Form(max_length=500)] = "",
    sites: Annotated[str, Form(max_length=2000)] = "",
    eu_only: Annotated[str, Form(max_length=5)] = "",
    operator_in_eu: Annotated[str, Form(max_length=5)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    """The org's residency policy (tenant-admin), with the API's rules: empty countries or sites is "any"."""
    doc = {"countries": _codes(countries, True) or None, "certifications": _codes(certifications, False),
           "sites": _codes(sites, False) or None, "eu_only": eu_only == "on",
           "operator_in_eu": operator_in_eu == "on", "name": name.strip()}  # fmt: skip
    policy = PolicyModel.model_validate(doc).to_domain()  # a refusal is the 422 page, with the API's message
    change = deps.sovereignty(request).residency.set(viewer.who, _org(viewer), None, policy)
    narrowed = len(change.pending_narrowed)
    return back_to("/console/sovereignty" + (f"?narrowed={narrowed}" if narrowed else ""))


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
