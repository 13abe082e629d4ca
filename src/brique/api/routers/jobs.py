"""Jobs: submit (JSON or YAML, idempotent, dry-run), list, show, cancel, events, logs (streamed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

import yaml
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from brique.api.audit import AUDITED, request_entry
from brique.api.deps import Caller, Jobs, Metering
from brique.api.params import MAX_OFFSET, Offset, decode_cursor, encode_cursor
from brique.domain.arrays import parse_array
from brique.domain.job_lifecycle import JobSpec
from brique.domain.tenancy import Principal
from brique.errors import InvalidInput
from brique.schemas.errors import first_problem
from brique.schemas.jobs import (
    ArrayResponse,
    DryRunResponse,
    JobActionRequest,
    JobDetailResponse,
    JobEventResponse,
    JobResponse,
    JobSubmitRequest,
    SubmitResponse,
)
from brique.services.job_arrays import ArrayInfo
from brique.services.jobs import JobService, RequestAudit

router = APIRouter(prefix="/v1", tags=["jobs"])
FOLLOW_POLL_S = 0.5
FOLLOW_MAX_S = 3600.0
# The body is parsed by hand (JSON or YAML), so FastAPI never registers the model: inline its schema.
SPEC_SCHEMA = {k: v for k, v in JobSubmitRequest.model_json_schema(
    ref_template="#/components/schemas/{model}").items() if k != "$defs"}  # fmt: skip


async def _parse_spec(request: Request) -> JobSubmitRequest:
    """The spec, or `InvalidInput` naming the field and the rule."""
    raw = await request.body()
    kind = request.headers.get("content-type", "")
    try:
        doc = yaml.safe_load(raw) if "yaml" in kind else json.loads(raw or b"null")
    except RecursionError as exc:
        raise InvalidInput("body is nested too deeply") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidInput(f"body is not valid {'YAML' if 'yaml' in kind else 'JSON'}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("body must be a job spec object")
    try:
        return JobSubmitRequest.model_validate(doc)
    except ValidationError as exc:
        field, rule = first_problem(exc.errors())
        raise InvalidInput(f"{field}: {rule}" if field else rule, field=field) from exc


@router.post(
    "/jobs",
    operation_id="createJob",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmitResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SPEC_SCHEMA},
                "application/yaml": {"schema": SPEC_SCHEMA},
            },
        }
    },
)
async def create_job(
    request: Request,
    response: Response,
    who: Caller,
    jobs: Jobs,
    dry_run: Annotated[bool, Query(description="only say what the scheduler would do")] = False,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    array: Annotated[
        str | None,
        Query(max_length=2000, description="a job array, Slurm's syntax: 0-9999, 0-9:2, 1,3,5-7, %N"),
    ] = None,
) -> SubmitResponse | Response:
    if dry_run:
        verdict = await run_in_threadpool(jobs.dry_run, who, await _spec(request, who, jobs))
        response.status_code = status.HTTP_200_OK
        return SubmitResponse(dry_run=DryRunResponse(
            verdict=verdict.verdict, message=verdict.message, site=verdict.site, racks=list(verdict.racks),
            reasons=[{"code": c, "message": m} for c, m in verdict.reasons]))  # fmt: skip
    if array is not None:
        made = await run_in_threadpool(jobs.submit_array, who, await _spec(request, who, jobs), parse_array(array),
                                       idempotency_key, _request_audit(request, who))  # fmt: skip
        setattr(request.state, AUDITED, True)  # written with the tasks, in the same transaction
        response.status_code = status.HTTP_200_OK if made.replayed else status.HTTP_201_CREATED
        return SubmitResponse(array=_array(made.array), replayed=made.replayed)
    return await submit_one(request, who, jobs, idempotency_key)


async def _spec(request: Request, who: Principal, jobs: JobService) -> JobSpec:
    try:
        return (await _parse_spec(request)).to_domain()
    except InvalidInput:
        await run_in_threadpool(jobs.throttle, who)  # an invalid submission counts too (429 once over)
        raise


async def submit_one(request: Request, who: Principal, jobs: JobService, idempotency_key: str | None) -> Response:
    """One job submitted (no array, no dry run): the route's answer, also given by `api.fast_submit`."""
    spec = await _spec(request, who, jobs)
    submitted = await jobs.submit_async(who, spec, idempotency_key, _request_audit(request, who))
    setattr(request.state, AUDITED, True)  # its record was written with the job, in the same transaction
    body = SubmitResponse(job=JobResponse.from_domain(submitted.job), replayed=submitted.replayed)
    # serialized here once: returned as a model, it would be validated again against response_model
    return Response(body.model_dump_json(), media_type="application/json",
                    status_code=status.HTTP_200_OK if submitted.replayed else status.HTTP_201_CREATED)  # fmt: skip


def _request_audit(request: Request, who: Principal) -> RequestAudit:
    """This call's audit record as the trail would write it, for the submission's own transaction."""
    return lambda replayed: request_entry(request.scope, who, "200" if replayed else "201", who.org_id)


@router.get("/jobs", operation_id="listJobs")
def list_jobs(
    response: Response,
    who: Caller,
    jobs: Jobs,
    project: str | None = None,
    state: Annotated[list[str] | None, Query(description="repeat to match several")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    array: Annotated[str | None, Query(max_length=40, description="only the tasks of this array")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="X-Next-Cursor of the previous page")
    ] = None,
    offset: Offset = 0,
) -> list[JobResponse]:
    """Newest first. A full page carries `X-Next-Cursor`: pass it as `cursor` for the next one."""
    found = jobs.list(
        who, project, state, limit + 1, array, decode_cursor(cursor) if cursor else None, offset
    )
    if len(found) > limit:
        found = found[:limit]
        response.headers["X-Next-Cursor"] = encode_cursor(found[-1].submitted_at, found[-1].id)
    return [JobResponse.from_domain(r, redact=who.is_operator) for r in found]


@router.get("/arrays/{array_id}", operation_id="getArray")
def get_array(array_id: str, who: Caller, jobs: Jobs) -> ArrayResponse:
    return _array(jobs.get_array(who, array_id))


@router.post("/arrays/{array_id}/cancel", operation_id="cancelArray")
def cancel_array(array_id: str, who: Caller, jobs: Jobs) -> ArrayResponse:
    return _array(jobs.cancel_array(who, array_id))


def _array(a: ArrayInfo) -> ArrayResponse:
    return ArrayResponse(id=a.id, name=a.name, org_id=a.org_id, tasks=a.tasks, max_running=a.max_running,
                         counts=a.counts)  # fmt: skip


@router.get("/jobs/{job_id}", operation_id="getJob")
def get_job(job_id: str, who: Caller, jobs: Jobs, metering: Metering) -> JobDetailResponse:
    row, events, redact = jobs.get(who, job_id)
    gpu_s, fp = metering.job_usage(row)
    return JobDetailResponse.from_domain(
        row, events, redact=redact, usage=(gpu_s, fp.facility_kwh, fp.co2e_kg)
    )


@router.post("/jobs/{job_id}/cancel", operation_id="cancelJob")
def cancel_job(job_id: str, who: Caller, jobs: Jobs, body: JobActionRequest | None = None) -> JobResponse:
    """Members cancel their own jobs, tenant admins any of their org's; operators must give a reason."""
    return JobResponse.from_domain(jobs.cancel(who, job_id, body.reason if body else None))


@router.post("/jobs/{job_id}/suspend", operation_id="suspendJob")
def suspend_job(job_id: str, body: JobActionRequest, who: Caller, jobs: Jobs) -> JobResponse:
    """Operators hold a tenant's job (stopped, not scheduled) with a reason the tenant is told."""
    return JobResponse.from_domain(jobs.controls.suspend(who, job_id, body.reason or ""))


@router.post("/jobs/{job_id}/resume", operation_id="resumeJob")
def resume_job(job_id: str, who: Caller, jobs: Jobs, body: JobActionRequest | None = None) -> JobResponse:
    """Operators put a suspended job back in the queue."""
    return JobResponse.from_domain(jobs.controls.resume(who, job_id, body.reason if body else None))


@router.get("/jobs/{job_id}/events", operation_id="listJobEvents")
def job_events(job_id: str, who: Caller, jobs: Jobs) -> list[JobEventResponse]:
    return [JobEventResponse.from_domain(e) for e in jobs.events(who, job_id, 10_000)]


@router.get("/events", operation_id="listEvents")
def events(
    who: Caller, jobs: Jobs, limit: Annotated[int, Query(ge=1, le=10_000)] = 500
) -> list[JobEventResponse]:
    return [JobEventResponse.from_domain(e) for e in jobs.events(who, None, limit)]


@router.get("/jobs/{job_id}/logs", operation_id="getJobLogs", response_class=StreamingResponse)
async def job_logs(
    job_id: str,
    who: Caller,
    jobs: Jobs,
    follow: bool = False,
    offset: Offset = 0,
    attempt: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
) -> StreamingResponse:
    data, done = await run_in_threadpool(
        jobs.logs, who, job_id, offset, attempt
    )  # authorizes before streaming
    if not follow:
        return StreamingResponse(iter([data]), media_type="text/plain; charset=utf-8")

    async def stream() -> AsyncIterator[bytes]:
        pos, finished, waited = offset + len(data), done, 0.0
        yield data
        while not finished and waited < FOLLOW_MAX_S:
            await asyncio.sleep(FOLLOW_POLL_S)
            waited += FOLLOW_POLL_S
            chunk, finished = await run_in_threadpool(jobs.logs, who, job_id, pos, attempt)
            if chunk:
                pos += len(chunk)
                yield chunk
        tail, _ = await run_in_threadpool(jobs.logs, who, job_id, pos, attempt)
        if tail:
            yield tail

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")
