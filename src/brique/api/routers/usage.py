"""Usage: GPU time, energy and carbon per job attempt, as JSON or a FOCUS CSV; idle capacity."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from brique.api.deps import Billing, Caller, InferenceDep, Metering
from brique.api.params import From, To, window
from brique.domain.energy import Footprint
from brique.domain.focus import FocusCharge, to_csv
from brique.domain.metering import month_bounds
from brique.domain.token_pricing import focus_token_rows
from brique.schemas.billing import (
    FootprintModel,
    IdleSiteResponse,
    TokenUsageResponse,
    UsageRecordResponse,
    UsageResponse,
)
from brique.services.billing import charges

router = APIRouter(prefix="/v1", tags=["usage"])
FOCUS_CSV = {200: {"content": {"text/csv": {}}, "description": "JSON, or a FOCUS CSV with format=csv"}}


@router.get("/usage", operation_id="getUsage", response_model=UsageResponse, responses=FOCUS_CSV)
def get_usage(
    who: Caller, metering: Metering, billing: Billing, inference: InferenceDep,
    start: From,
    end: To,
    org: Annotated[str | None, Query(description="org name or id (operators; tenants: their own)")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv in the FOCUS layout")] = "json",
) -> UsageResponse | Response:  # fmt: skip
    report = metering.usage(who, org, *window(start, end))
    regions = {s.id: s.region for s in metering.fleet.sites}
    rows = charges(billing, report, regions)
    token_charges = billing.token_charges(report.org, *window(start, end))
    if format == "csv":
        name = f"brique-usage-{report.org.name}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        period = month_bounds(f"{start.year:04d}-{start.month:02d}")
        extra = [r for c in token_charges for r in focus_token_rows(c, report.org.name, period)]
        return Response(to_csv(rows, extra), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    now = metering.clock.now()
    records = [_record(c, c.end >= now.replace(microsecond=0) and item.record.ended_at is None)
               for c, item in zip(rows, report.items, strict=True)]  # fmt: skip
    total = Footprint()
    for item in report.items:
        total = total + item.footprint
    return UsageResponse(
        org=report.org.name, start=start, end=end, records=records,
        total=FootprintModel(gpu_seconds=sum(c.gpu_seconds for c in rows), energy_kwh=total.facility_kwh,
                             co2e_kg=total.co2e_kg),
        billed_cost=sum((c.billed for c in rows), Decimal(0)),
        tokens=[TokenUsageResponse(project_id=t.project_id, deployment_id=t.deployment_id, deployment=t.deployment_name,
                                   key_id=t.key_id, requests=t.requests, prompt_tokens=t.prompt_tokens,
                                   completion_tokens=t.completion_tokens)
                for t in inference.meter.totals(report.org.id, *window(start, end))],
        token_cost=sum((c.cost for c in token_charges), Decimal(0)),
    )  # fmt: skip


def _record(c: FocusCharge, running: bool) -> UsageRecordResponse:
    return UsageRecordResponse(
        job_id=c.job_id, job_name=c.job_name, attempt=c.attempt, project=c.project, tier=c.tier, site=c.site,
        gpus=c.gpus, start=c.start, end=c.end, running=running, gpu_seconds=c.gpu_seconds,
        energy_kwh=c.energy_kwh, co2e_kg=c.co2e_kg, billed_cost=c.billed, effective_cost=c.effective,
    )  # fmt: skip


@router.get("/usage/idle", operation_id="getIdleCapacity")
def get_idle(
    who: Caller, metering: Metering,
    start: From, end: To,
) -> list[IdleSiteResponse]:  # fmt: skip
    """Operators: capacity no job used, and its energy (reported separately, never billed)."""
    return [IdleSiteResponse(site=x.site, capacity_gpu_seconds=x.capacity_gpu_seconds,
                             busy_gpu_seconds=x.busy_gpu_seconds, idle_energy_kwh=x.footprint.facility_kwh,
                             idle_co2e_kg=x.footprint.co2e_kg)
            for x in metering.idle(who, *window(start, end))]  # fmt: skip
