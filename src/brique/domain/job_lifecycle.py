"""A job's life: states, the transitions allowed between them, and the spec a tenant submits.

    pending -> scheduled -> running -> succeeded | failed | cancelled
    running/scheduled -> preempted -> pending      (requeued while retries remain)
    running/scheduled -> lost -> pending           (node failure; requeued while retries remain)
    scheduled/running -> pending                   (failed with a retry left, or launch failed)
    pending -> failed                              (rejected: can never run as asked)
    pending/scheduled/running -> suspended         (an operator held it; running ones stop first)
    suspended -> pending | cancelled               (the operator resumed it, or it was cancelled)

Every transition is recorded as an event with its reason (`services/jobs.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from brique.domain.jobs import DEFAULT_GRACE_S, DEFAULT_MAX_RUNTIME_S, Tier
from brique.domain.policy import PlacementPolicy


class JobState(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    LOST = "lost"
    SUSPENDED = "suspended"  # held by an operator: not scheduled, not counted as pending

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def holds_gpus(self) -> bool:
        return self in (JobState.SCHEDULED, JobState.RUNNING)


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
ALLOWED: Mapping[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.SCHEDULED, JobState.CANCELLED, JobState.FAILED, JobState.SUSPENDED}),
    JobState.SCHEDULED: frozenset(
        {
            JobState.RUNNING,
            JobState.PENDING,
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.PREEMPTED,
            JobState.LOST,
            JobState.SUSPENDED,
        }
    ),
    JobState.RUNNING: frozenset(
        {
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.PREEMPTED,
            JobState.LOST,
            JobState.PENDING,
            JobState.SUSPENDED,
        }
    ),
    JobState.PREEMPTED: frozenset({JobState.PENDING, JobState.FAILED, JobState.CANCELLED}),
    JobState.LOST: frozenset({JobState.PENDING, JobState.FAILED, JobState.CANCELLED}),
    JobState.SUSPENDED: frozenset({JobState.PENDING, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def can_move(src: JobState, dst: JobState) -> bool:
    return dst in ALLOWED[src]


class StopReason(StrEnum):
    CANCEL = "cancel"
    PREEMPT = "preempt"
    TIMEOUT = "timeout"
    SUSPEND = "suspend"  # an operator suspended it: it waits, held, once stopped


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a tenant asks for. Validated at the edge (`schemas/jobs.py`), then immutable.

    sleep_s: for the simulated executor, how long the job "runs" (default: its estimate).
    retries: how many times to requeue after failure, preemption or node loss.
    secrets: names of the tenant's secrets to inject as environment variables.
    """

    name: str
    project: str
    command: str
    gpus: int
    tier: Tier = Tier.STANDARD
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    placement: PlacementPolicy = field(default_factory=PlacementPolicy)
    estimated_runtime_s: float | None = None
    max_runtime_s: float = DEFAULT_MAX_RUNTIME_S
    grace_s: float = DEFAULT_GRACE_S
    retries: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    sleep_s: float | None = None

    @property
    def simulated_runtime_s(self) -> float:
        """How long a simulated executor runs it: its sleep, else its estimate, else a minute."""
        return self.sleep_s if self.sleep_s is not None else (self.estimated_runtime_s or 60.0)


def placement_to_dict(p: PlacementPolicy) -> dict[str, object]:
    return {
        "countries": sorted(p.countries) if p.countries is not None else None,
        "certifications": sorted(p.certifications),
        "sites": sorted(p.sites) if p.sites is not None else None,
        "eu_only": p.eu_only,
        "operator_in_eu": p.operator_in_eu,
        "name": p.name,
    }


def placement_from_dict(p: Mapping[str, object]) -> PlacementPolicy:
    return PlacementPolicy(
        countries=p.get("countries"),  # type: ignore[arg-type]
        certifications=p.get("certifications") or (),  # type: ignore[arg-type]
        sites=p.get("sites"),  # type: ignore[arg-type]
        eu_only=bool(p.get("eu_only")),
        operator_in_eu=bool(p.get("operator_in_eu")),
        name=str(p.get("name") or ""),
    )


def spec_to_dict(spec: JobSpec) -> dict[str, object]:
    """The stored form of a spec (JSON-safe; secrets are names only, never values)."""
    return {
        "name": spec.name,
        "project": spec.project,
        "command": spec.command,
        "gpus": spec.gpus,
        "tier": spec.tier.value,
        "image": spec.image,
        "env": dict(spec.env),
        "secrets": list(spec.secrets),
        "placement": placement_to_dict(spec.placement),
        "estimated_runtime_s": spec.estimated_runtime_s,
        "max_runtime_s": spec.max_runtime_s,
        "grace_s": spec.grace_s,
        "retries": spec.retries,
        "labels": dict(spec.labels),
        "sleep_s": spec.sleep_s,
    }


def spec_from_dict(doc: Mapping[str, Any]) -> JobSpec:
    return JobSpec(
        name=str(doc["name"]),
        project=str(doc["project"]),
        command=str(doc["command"]),
        gpus=int(doc["gpus"]),
        tier=Tier(str(doc.get("tier", "standard"))),
        image=doc.get("image"),
        env=dict(doc.get("env") or {}),
        secrets=tuple(doc.get("secrets") or ()),
        placement=placement_from_dict(doc.get("placement") or {}),
        estimated_runtime_s=doc.get("estimated_runtime_s"),
        max_runtime_s=float(doc.get("max_runtime_s", DEFAULT_MAX_RUNTIME_S)),
        grace_s=float(doc.get("grace_s", DEFAULT_GRACE_S)),
        retries=int(doc.get("retries", 0)),
        labels=dict(doc.get("labels") or {}),
        sleep_s=doc.get("sleep_s"),
    )
