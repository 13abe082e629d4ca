"""Tenant pages: jobs (list, detail, submit with a dry-run verdict, cancel), usage per day, API keys."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from brique.api import deps
from brique.api.console.web import ConsoleRoute, Posted, SignedIn, back_to, page
from brique.domain.jobs import Tier
from brique.errors import BriqueError, InvalidInput
from brique.schemas.errors import first_problem
from brique.schemas.jobs import JobDetailResponse, JobEventResponse, JobResponse, JobSubmitRequest
from brique.services.billing import charges
from brique.services.budgets import MANAGERS as BUDGET_MANAGERS

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
LOG_TAIL_BYTES = 32_768  # the page shows the end; `brique logs -f` streams it all
STATES = ("pending", "scheduled", "running", "suspended", "succeeded", "failed", "cancelled", "preempted", "lost")


@router.get("/", operation_id="consoleHome")
def home(viewer: SignedIn) -> Response:
    return back_to("/console/fleet" if viewer.operator else "/console/jobs")


@router.get("/jobs", operation_id="consoleJobs")
def jobs_page(
    request: Request, viewer: SignedIn, state: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    rows = deps.job_service(request).list(viewer.who, None, [state] if state else None, 200)
    jobs = [JobResponse.from_domain(r, redact=viewer.who.is_operator) for r in rows]
    return page(request, "jobs.html", viewer, jobs=jobs, state=state, states=STATES)


@router.get("/jobs/new", operation_id="consoleJobForm")
def job_form(request: Request, viewer: SignedIn) -> Response:
    return _form(request, viewer, {}, None, None)


def _form(
    request: Request, viewer, values: dict, verdict, error: InvalidInput | None, status: int = 200
) -> Response:  # type: ignore[no-untyped-def]
    tenancy = deps.tenancy_service(request)
    projects = tenancy.list_projects(viewer.who, viewer.who.org_id) if viewer.who.org_id else []
    return page(request, "submit.html", viewer, status=status, values=values, verdict=verdict, error=error,
                projects=projects, tiers=[t.value for t in Tier])  # fmt: skip


@router.post("/jobs/new", operation_id="consoleSubmitJob")
async def submit_job(
    request: Request,
    viewer: Posted,
    name: Annotated[str, Form(max_length=100)] = "",
    project: Annotated[str, Form(max_length=100)] = "",
    command: Annotated[str, Form(max_length=100_000)] = "",
    gpus: Annotated[str, Form(max_length=10)] = "",
    tier: Annotated[str, Form(max_length=20)] = "standard",
    sleep_s: Annotated[str, Form(max_length=20)] = "",
    countries: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=10)] = "submit",
) -> Response:
    values = {"name": name, "project": project, "command": command, "gpus": gpus, "tier": tier,
              "sleep_s": sleep_s, "countries": countries}  # fmt: skip
    doc: dict = {"name": name, "project": project, "command": command, "gpus": _number(gpus, int), "tier": tier}
    if sleep_s.strip():
        doc["sleep_s"] = _number(sleep_s, float)
    if countries.strip():
        doc["placement"] = {"countries": [c.strip().upper() for c in countries.split(",") if c.strip()]}
    try:
        spec = JobSubmitRequest.model_validate(doc).to_domain()  # the API's own rules, the API's messages
    except ValidationError as exc:
        field, rule = first_problem(exc.errors())
        return _form(request, viewer, values, None, InvalidInput(f"{field}: {rule}", field=field), 422)
    jobs = deps.job_service(request)
    if action == "dry-run":
        verdict = await run_in_threadpool(jobs.dry_run, viewer.who, spec)
        return _form(request, viewer, values, verdict, None)
    submitted = await run_in_threadpool(jobs.submit, viewer.who, spec, None)
    return back_to(f"/console/jobs/{submitted.job.id}")


@router.get("/jobs/{job_id}", operation_id="consoleJob")
def job_page(request: Request, job_id: str, viewer: SignedIn) -> Response:
    jobs = deps.job_service(request)
    row, events, redact = jobs.get(viewer.who, job_id)
    gpu_s, fp = deps.metering_service(request).job_usage(row)
    job = JobDetailResponse.from_domain(row, events, redact=redact, usage=(gpu_s, fp.facility_kwh, fp.co2e_kg))
    site = next((s for s in deps.fleet_service(request).sites(viewer.who) if s.id == job.site), None)
    return page(request, "job.html", viewer, job=job, site=site, events=[JobEventResponse.from_domain(e) for e in events],
                may_cancel=viewer.may("job.cancel") and not job.state.terminal,
                logs=_log_tail(jobs, viewer, job_id))  # fmt: skip


def _log_tail(jobs, viewer, job_id: str) -> tuple[str, str | None, int]:  # type: ignore[no-untyped-def]
    """The end of the current attempt's log, why it cannot be shown (operators need the lockbox), and
    the offset after it (where the live stream continues)."""
    try:
        data, _ = jobs.logs(viewer.who, job_id, 0, None)
    except BriqueError as exc:
        return "", exc.message, 0
    text = data[-LOG_TAIL_BYTES:].decode("utf-8", errors="replace")
    return (text[text.find("\n") + 1 :] if len(data) > LOG_TAIL_BYTES else text), None, len(data)


@router.post("/jobs/{job_id}/cancel", operation_id="consoleCancelJob")
def cancel_job(request: Request, job_id: str, viewer: Posted) -> Response:
    deps.job_service(request).cancel(viewer.who, job_id)
    return back_to(f"/console/jobs/{job_id}")


@router.get("/usage", operation_id="consoleUsage")
def usage_page(request: Request, viewer: SignedIn, days: Annotated[int, Query(ge=1, le=92)] = 7,
               org: Annotated[str | None, Query(max_length=100)] = None) -> Response:  # fmt: skip
    metering = deps.metering_service(request)
    end = (metering.clock.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    report = metering.usage(viewer.who, org, start, end)
    regions = {s.id: s.region for s in metering.fleet.sites}
    rows = charges(deps.billing_service(request), report, regions)
    budgets = deps.budget_service(request).list(viewer.who, report.org.name)
    projects = [p.name for p in deps.tenancy_service(request).list_projects(viewer.who, report.org.name)]
    may_budget = viewer.who.role in BUDGET_MANAGERS  # the budget service's own rule, not a copy
    return page(request, "usage.html", viewer, org=report.org, days=days, start=start, end=end, budgets=budgets,
                projects=projects, may_budget=may_budget, org_param=org or "",
                chart=_per_day(rows, start, days), rows=rows,
                total=sum((c.billed for c in rows), Decimal(0)))  # fmt: skip


def _per_day(rows: list, start: datetime, days: int) -> dict:  # type: ignore[type-arg]
    """GPU-hours and cost per (day, project), and the largest day, for the bar chart."""
    dates = [(start + timedelta(days=i)).date() for i in range(days)]
    hours: dict = defaultdict(float)
    cost: dict = defaultdict(Decimal)
    for c in rows:
        hours[(c.start.date(), c.project)] += c.gpu_seconds / 3600
        cost[(c.start.date(), c.project)] += c.billed
    projects = sorted({p for _, p in hours})
    totals = [sum(hours[(d, p)] for p in projects) for d in dates]
    return {"dates": dates, "projects": projects, "hours": hours, "cost": cost, "totals": totals,
            "peak": max(totals, default=0.0) or 1.0}  # fmt: skip


@router.get("/keys", operation_id="consoleKeys")
def keys_page(request: Request, viewer: SignedIn) -> Response:
    keys = deps.tenancy_service(request).list_keys(viewer.who, None)
    return page(request, "keys.html", viewer, keys=keys, created=None)


@router.post("/keys", operation_id="consoleCreateKey")
def create_key(
    request: Request, viewer: Posted, name: Annotated[str, Form(max_length=100)] = "",
    expires_days: Annotated[str, Form(max_length=5)] = "",
) -> Response:  # fmt: skip
    days = expires_days.strip()
    if days and not (days.isdigit() and 1 <= int(days) <= 3650):
        raise InvalidInput("must be a whole number of days from 1 to 3650", field="expires_days")
    tenancy = deps.tenancy_service(request)
    new = tenancy.create_key(viewer.who, None, name, int(days) if days else None)
    return page(request, "keys.html", viewer, keys=tenancy.list_keys(viewer.who, None), created=new)


@router.post("/keys/{key_id}/revoke", operation_id="consoleRevokeKey")
def revoke_key(request: Request, key_id: str, viewer: Posted) -> Response:
    deps.tenancy_service(request).revoke_key(viewer.who, key_id)
    return back_to("/console/keys")


@router.get("/contracts", operation_id="consoleContracts")
def contracts_page(
    request: Request, viewer: SignedIn, org: Annotated[str | None, Query(max_length=100)] = None
) -> Response:
    """Each site's guaranteed GPUs against what the org's jobs hold now; above the guarantee is borrowed."""
    ref = org or viewer.who.org_id
    if ref is None:
        raise InvalidInput("operators name the organization: /console/contracts?org=<name>", field="org")
    rows = deps.contract_service(request).list(viewer.who, ref)
    org_id = deps.tenancy_service(request).get_org(viewer.who, ref).id
    held: dict[str, int] = defaultdict(int)
    for job in deps.job_service(request).list(viewer.who, None, ["scheduled", "running"], 10_000):
        if job.org_id == org_id and job.site_id:
            held[job.site_id] += job.gpus
    terms = [c.terms for c in rows]
    used = {r.site: sum(held.values()) if r.site is None else held.get(r.site, 0) for r in terms}
    lines = [{"site": r.site, "guaranteed": r.guaranteed_gpus, "used": used[r.site],
              "borrowed": max(0, used[r.site] - r.guaranteed_gpus), "may_borrow": r.may_borrow,
              "borrow_cap": r.borrow_cap, "weight": r.weight} for r in terms]  # fmt: skip
    return page(request, "contracts.html", viewer, lines=lines)


def _number(text: str, kind: type[int] | type[float]) -> object:
    """A form field's text as a number for the API's strict model (HTML forms send text); text
    that is not one is passed on, so the model's own rule names the problem."""
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return text
