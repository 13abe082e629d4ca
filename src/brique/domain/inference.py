"""Managed inference: deployments, their replicas, gateway keys, token usage and the autoscale rule.

A deployment is a model served by N replicas; each replica is a long-running job placed by the
scheduler like any other. The rules here are pure (no clock read, no I/O): the service passes `now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from brique.domain.jobs import Tier
from brique.domain.policy import PlacementPolicy

# Built-in runtimes: the command each replica runs (`{python}`, `{model}` filled by the service;
# $BRIQUE_REPLICA_PORT is set in the replica's environment). `custom` runs the deployment's own command.
BUILTIN_RUNTIMES = ("embeddings", "echo", "ngram", "vllm", "custom")
REPLICA_PORT_ENV = "BRIQUE_REPLICA_PORT"
DEPLOYMENT_LABEL = "brique.deployment"


class DeploymentState(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    org_id: str
    project_id: str
    name: str
    model: str
    runtime: str
    command: str | None
    image: str | None
    gpus: int
    min_replicas: int
    max_replicas: int
    tier: Tier
    placement: PlacementPolicy
    desired_replicas: int
    state: DeploymentState
    created_by: str
    created_at: datetime
    updated_at: datetime
    target_inflight: int = 4  # in-flight requests per replica the autoscaler aims for
    idle_s: float = 300.0  # no request for this long: a non-guaranteed deployment scales to zero

    @property
    def guaranteed(self) -> bool:
        """Priority-tier deployments are backed by the tenant's contract: never below min, never zero."""
        return self.tier is Tier.PRIORITY


@dataclass(frozen=True, slots=True)
class Replica:
    """One replica job of a deployment and the port its runtime listens on."""

    job_id: str
    deployment_id: str
    port: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InferenceKey:
    """A gateway key: scoped to some deployments of one org (empty scope: all of them)."""

    id: str
    org_id: str
    name: str
    deployments: tuple[str, ...]
    requests_per_min: int | None
    tokens_per_min: int | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, deployment_id: str) -> bool:
        return not self.deployments or deployment_id in self.deployments


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """One request served by the gateway: tokens as the runtime reported them (or as counted)."""

    org_id: str
    project_id: str
    deployment_id: str
    key_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    at: datetime
    site_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenTotals:
    """Tokens aggregated over a period for one (org, project, deployment, key)."""

    org_id: str
    project_id: str
    deployment_id: str
    deployment_name: str
    key_id: str
    requests: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Load:
    """What the gateway saw of one deployment since the last autoscale step."""

    inflight: int = 0
    waiting: int = 0  # requests held for a cold start (no ready replica)
    last_request_at: datetime | None = None
    ready: int = 0


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    replicas: int
    reason: str


def desired_replicas(dep: Deployment, load: Load, now: datetime) -> ScaleDecision:
    """Replicas to run. Up at once: enough for the in-flight and waiting requests at `target_inflight`
    each (never above max). Down only when idle: after `idle_s` without a request, to min (to zero
    for a non-guaranteed deployment with min 0). A waiting request always gets at least one replica."""
    floor = max(dep.min_replicas, 1) if dep.guaranteed else dep.min_replicas
    demand = load.inflight + load.waiting
    if demand > 0:
        n = max(dep.desired_replicas, math.ceil(demand / max(dep.target_inflight, 1)))
    else:
        since = load.last_request_at or dep.updated_at
        n = floor if (now - since).total_seconds() >= dep.idle_s else dep.desired_replicas
    n = max(floor, min(dep.max_replicas, n))
    if load.waiting and n == 0:
        n = 1  # a cold start
    if n > dep.desired_replicas:
        why = f"{demand} request(s) in flight or waiting"
    elif n < dep.desired_replicas:
        why = "idle: scale to zero" if n == 0 else f"idle for {dep.idle_s:g} s: down to min"
    else:
        why = "steady"
    return ScaleDecision(n, why)
