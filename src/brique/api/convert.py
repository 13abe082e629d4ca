"""Named converters from store rows to wire models (kept out of `schemas/`, which the SDK imports)."""

from __future__ import annotations

from brique.domain.job_lifecycle import JobState
from brique.domain.jobs import Tier
from brique.schemas.jobs import JobDetailResponse, JobEventResponse, JobResponse
from brique.store.tables import JobEventRow, JobRow


def job_row_to_response(row: JobRow) -> JobResponse:
    pending = row.state == JobState.PENDING.value
    return JobResponse(
        id=row.id,
        name=row.name,
        org_id=row.org_id,
        project_id=row.project_id,
        state=JobState(row.state),
        tier=Tier(row.tier),
        gpus=row.gpus,
        attempt=row.attempt,
        retries_left=row.retries_left,
        site=row.site_id,
        racks=sorted({g.rsplit("/", 2)[0] for g in row.gpu_ids}),
        submitted_at=row.submitted_at,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        exit_code=row.exit_code,
        stopping=row.stop_reason,
        why_pending=row.wait_message if pending else None,
        why_pending_code=row.wait_code if pending else None,
    )


def event_row_to_response(row: JobEventRow) -> JobEventResponse:
    return JobEventResponse(
        id=row.id,
        job_id=row.job_id,
        at=row.at,
        attempt=row.attempt,
        from_state=JobState(row.from_state) if row.from_state else None,
        to_state=JobState(row.to_state),
        code=row.code,
        message=row.message,
    )


def job_detail(
    row: JobRow, events: list[JobEventRow], redact: bool, usage: tuple[int, float, float] = (0, 0.0, 0.0)
) -> JobDetailResponse:
    """`redact`: operators see job metadata, never the tenant's command or environment values."""
    spec = dict(row.spec)
    if redact:
        spec["env"] = {k: "<redacted>" for k in spec.get("env", {})}
        spec["command"] = "<redacted>"
    return JobDetailResponse(
        **job_row_to_response(row).model_dump(),
        spec=spec,
        gpu_ids=list(row.gpu_ids),
        events=[event_row_to_response(e) for e in events],
        gpu_seconds=usage[0],
        energy_kwh=usage[1],
        co2e_kg=usage[2],
    )
