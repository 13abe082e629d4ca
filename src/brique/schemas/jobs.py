"""Wire models for jobs: the submitted spec, the job as shown, its events, dry-run verdicts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from brique.domain.job_lifecycle import JobSpec, JobState, spec_to_dict
from brique.domain.job_records import JobEvent, JobRecord
from brique.domain.jobs import Tier
from brique.schemas.base import Float, Int, StrictModel
from brique.schemas.sovereignty import PolicyModel

MAX_RUNTIME_S = 30 * 86_400.0
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Per-field limits (docs/api.md): a spec stays a few hundred KiB at most, whoever sends it.
MAX_COMMAND = 100_000
MAX_LABELS, MAX_LABEL_KEY, MAX_LABEL_VALUE = 64, 63, 1_024
MAX_ENV, MAX_ENV_VALUE = 256, 32_768
MAX_SECRETS = 64


class JobSubmitRequest(StrictModel):
    """A job spec, as YAML or JSON. `command` runs with /bin/sh -c."""

    name: str = Field(description="letters, digits, '.', '_', '-' (1-100)")
    project: str = Field(max_length=100, description="project name or id in your organization")
    command: str = Field(min_length=1, max_length=MAX_COMMAND)
    gpus: Int = Field(ge=1, le=100_000)
    tier: Tier = Tier.STANDARD
    image: str | None = Field(
        default=None, max_length=500, description="recorded; run in a container where a runtime exists"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description=f"at most {MAX_ENV} variables, values up to {MAX_ENV_VALUE} chars"
    )
    secrets: list[str] = Field(
        default_factory=list, max_length=MAX_SECRETS, description="names of your org's secrets to inject"
    )
    placement: PolicyModel = Field(default_factory=PolicyModel)
    estimated_runtime_s: Float | None = Field(
        default=None, gt=0, le=MAX_RUNTIME_S, allow_inf_nan=False, description="used by backfill"
    )
    max_runtime_s: Float = Field(default=86_400.0, gt=0, le=MAX_RUNTIME_S, allow_inf_nan=False)
    grace_s: Float = Field(
        default=30.0,
        ge=0,
        le=3_600,
        allow_inf_nan=False,
        description="stop signal to kill, for checkpointing",
    )
    retries: Int = Field(default=0, ge=0, le=100, description="requeues after failure or node loss")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description=f"at most {MAX_LABELS}; keys up to {MAX_LABEL_KEY} chars, values up to {MAX_LABEL_VALUE}",
    )
    sleep_s: Float | None = Field(
        default=None,
        ge=0,
        le=MAX_RUNTIME_S,
        allow_inf_nan=False,
        description="simulated executor: how long it runs",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_ENV:
            raise ValueError(f"at most {MAX_ENV} variables, not {len(v)}")
        for key, value in v.items():
            if not ENV_NAME.match(key) or len(key) > 255:
                raise ValueError(f"'{key[:255]}' is not a valid environment variable name")
            if len(value) > MAX_ENV_VALUE:
                raise ValueError(f"'{key}': value longer than {MAX_ENV_VALUE} characters")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels, not {len(v)}")
        for key, value in v.items():
            if not 1 <= len(key) <= MAX_LABEL_KEY:
                raise ValueError(f"label keys are 1-{MAX_LABEL_KEY} characters ('{key[:MAX_LABEL_KEY]}…')")
            if len(value) > MAX_LABEL_VALUE:
                raise ValueError(f"label '{key}': value longer than {MAX_LABEL_VALUE} characters")
        return v

    def to_domain(self) -> JobSpec:
        return JobSpec(
            name=self.name,
            project=self.project,
            command=self.command,
            gpus=self.gpus,
            tier=self.tier,
            image=self.image,
            env=self.env,
            secrets=tuple(self.secrets),
            placement=self.placement.to_domain(),
            estimated_runtime_s=self.estimated_runtime_s,
            max_runtime_s=self.max_runtime_s,
            grace_s=self.grace_s,
            retries=self.retries,
            labels=self.labels,
            sleep_s=self.sleep_s,
        )


class JobActionRequest(StrictModel):
    """The reason an operator (required) or a tenant (optional) gives to suspend, resume or cancel."""

    reason: str | None = Field(default=None, max_length=500, description="told to the tenant; audited")


class JobResponse(BaseModel):
    id: str
    name: str | None = Field(description="null for operators without an approved access grant")
    org_id: str
    project_id: str
    state: JobState
    tier: Tier
    gpus: int
    attempt: int
    retries_left: int
    site: str | None
    racks: list[str]
    submitted_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    stopping: str | None = Field(description="cancel | preempt | timeout | suspend while a stop is in progress")
    why_pending: str | None = None
    why_pending_code: str | None = None
    array_id: str | None = Field(None, description="the job array this task belongs to (arr_…)")
    array_index: int | None = Field(None, description="this task's index (BRIQUE_ARRAY_TASK_ID)")

    @classmethod
    def from_domain(cls, job: JobRecord, redact: bool = False) -> JobResponse:
        """`redact`: an operator's view (no grant) keeps id, state, size, placement and times only."""
        return cls(**_job_fields(job, redact))


class JobEventResponse(BaseModel):
    id: int
    job_id: str
    at: datetime
    attempt: int
    from_state: JobState | None
    to_state: JobState
    code: str
    message: str

    @classmethod
    def from_domain(cls, e: JobEvent) -> JobEventResponse:
        return cls(id=e.id, job_id=e.job_id, at=e.at, attempt=e.attempt, from_state=e.from_state,
                   to_state=e.to_state, code=e.code, message=e.message)  # fmt: skip


class JobDetailResponse(JobResponse):
    spec: dict[str, Any]
    gpu_ids: list[str]
    events: list[JobEventResponse]
    gpu_seconds: int = Field(0, description="GPU-seconds held by all attempts so far (billed time)")
    energy_kwh: float = Field(0.0, description="facility energy of those GPU-seconds (IT x site PUE)")
    co2e_kg: float = Field(0.0, description="emissions at the site's grid intensity, hour by hour")

    @classmethod
    def from_domain(
        cls,
        job: JobRecord,
        events: list[JobEvent],
        redact: bool,
        usage: tuple[int, float, float] = (0, 0.0, 0.0),
    ) -> JobDetailResponse:
        """`redact`: operators without an approved grant see the job's size, placement, times and
        energy, never its name, command, image, env (names or values), secret names or labels."""
        spec = spec_to_dict(job.spec)
        if redact:
            spec = {k: v for k, v in spec.items() if k in OPERATOR_VISIBLE_SPEC}
        return cls(**_job_fields(job, redact), spec=spec, gpu_ids=list(job.gpu_ids),
                   events=[JobEventResponse.from_domain(e) for e in events],
                   gpu_seconds=usage[0], energy_kwh=usage[1], co2e_kg=usage[2])  # fmt: skip


# What an operator without a grant sees of a spec: what it asks of the fleet, nothing of the work itself.
OPERATOR_VISIBLE_SPEC = frozenset(
    {"gpus", "tier", "placement", "estimated_runtime_s", "max_runtime_s", "grace_s", "retries"}
)


def _job_fields(job: JobRecord, redact: bool = False) -> dict[str, Any]:
    pending = job.state is JobState.PENDING
    return dict(
        id=job.id, name=None if redact else job.name, org_id=job.org_id, project_id=job.project_id, state=job.state, tier=job.tier,
        gpus=job.gpus, attempt=job.attempt, retries_left=job.retries_left, site=job.site_id, racks=job.racks,
        submitted_at=job.submitted_at, scheduled_at=job.scheduled_at, started_at=job.started_at,
        finished_at=job.finished_at, exit_code=job.exit_code,
        stopping=job.stop_reason.value if job.stop_reason else None,
        why_pending=job.wait_message if pending else None, why_pending_code=job.wait_code if pending else None,
        array_id=job.array_id, array_index=job.array_index,
    )  # fmt: skip


class DryRunResponse(BaseModel):
    verdict: str = Field(description="start | wait | reject")
    message: str
    site: str | None = None
    racks: list[str] = Field(default_factory=list)
    reasons: list[dict[str, str]] = Field(default_factory=list)


class ArrayResponse(BaseModel):
    """A job array as a whole (its tasks are jobs: list them with `GET /v1/jobs?array=arr_…`)."""

    id: str
    name: str
    org_id: str
    tasks: int
    max_running: int | None = Field(description="at most this many tasks run at once (`%N`)")
    counts: dict[str, int] = Field(description="tasks per state")


class SubmitResponse(BaseModel):
    job: JobResponse | None = None
    dry_run: DryRunResponse | None = None
    replayed: bool = False
    array: ArrayResponse | None = Field(None, description="with ?array=: the array created")
