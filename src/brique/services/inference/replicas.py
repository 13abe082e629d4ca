"""Keeping a deployment's replicas: replace those that ended or sit on leaving nodes, autoscale,
and hand the running ones to the gateway.

A replica is a long-running job submitted through `JobService.submit` (so quotas, residency, budgets
and the scheduler apply as to any job). `ReplicaSet` is mixed into `DeploymentService`; `reconcile`
runs in the inference loop and after every deploy, scale or delete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.fleet import node_of
from brique.domain.inference import (
    DEPLOYMENT_LABEL,
    REPLICA_PORT_ENV,
    Deployment,
    DeploymentState,
    Load,
    Replica,
    desired_replicas,
)
from brique.domain.job_lifecycle import JobSpec, JobState
from brique.domain.job_records import JobRecord
from brique.domain.tenancy import Principal, Role
from brique.errors import BriqueError, Conflict
from brique.services.audit import AuditLog, Entry
from brique.services.jobs import JobService
from brique.store.db import Database
from brique.store.repos import fleet as fleet_repo
from brique.store.repos import inference as repo
from brique.store.repos import jobs as jobs_repo

REPLICA_MAX_RUNTIME_S = 30 * 86_400.0  # a replica job is renewed by reconcile when it reaches the cap
LIVE = frozenset({JobState.PENDING, JobState.SCHEDULED, JobState.RUNNING})
LEAVING_NODE_STATES = frozenset({"draining", "down"})  # a replica there is replaced, then stopped


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """How replicas are started and reached (from Settings at the composition root)."""

    python: str  # the interpreter that runs the built-in runtimes on nodes
    replica_host: str = "127.0.0.1"  # where the gateway reaches replicas of local-executor sites


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A running replica the gateway may route to once it answers its health check."""

    deployment: Deployment
    job_id: str
    url: str
    site_id: str | None


class ReplicaSet:
    """The reconcile step of `DeploymentService` (which provides these attributes)."""

    db: Database
    clock: Clock
    jobs: JobService
    audit: AuditLog
    runtime: RuntimeConfig
    _reconciling: threading.Lock  # the loop and a deploy call never start the same replica twice
    _refused: dict[str, str]  # deployment id -> last refusal, audited once, not every step

    def reconcile(self, loads: Mapping[str, Load]) -> tuple[list[Deployment], list[Endpoint]]:
        """Replace ended replicas, move those off draining or down nodes, scale to the autoscale rule;
        the active deployments and the running replicas."""
        with self._reconciling:
            return self._reconcile(loads)

    def _reconcile(self, loads: Mapping[str, Load]) -> tuple[list[Deployment], list[Endpoint]]:
        now = self.clock.now()
        with self.db.transaction() as s:
            deps = {d.id: d for d in repo.deployments(s, active_only=False)}
            replicas = repo.replicas(s)
            jobs = {r.job_id: jobs_repo.get(s, r.job_id) for r in replicas}
            ended = [r.job_id for r in replicas if jobs[r.job_id] is None or jobs[r.job_id].state not in LIVE]
            repo.drop_replicas(s, ended)
            leaving_nodes = {n for n, st in fleet_repo.unhealthy_states(s)[0].items() if st in LEAVING_NODE_STATES}
            live: dict[str, list[Replica]] = {}
            for r in replicas:
                if r.job_id not in ended:
                    live.setdefault(r.deployment_id, []).append(r)
            deps = {k: self._autoscale(s, d, loads.get(k), now) for k, d in deps.items()}
        endpoints: list[Endpoint] = []
        for dep in deps.values():
            mine = live.get(dep.id, [])
            want = dep.desired_replicas if dep.state is DeploymentState.ACTIVE else 0
            leaving = [r for r in mine if _on(jobs[r.job_id], leaving_nodes)]
            staying = [r for r in mine if r not in leaving]
            for _ in range(want - len(staying)):
                self._start_replica(dep)
            # Stop the youngest extras first (the older ones are warm); never below `want`.
            for r in sorted(staying, key=lambda r: r.created_at, reverse=True)[: max(0, len(staying) - want)]:
                self._stop_replica(dep, r.job_id)
                staying.remove(r)
            ready = sum(1 for r in staying if jobs[r.job_id].state is JobState.RUNNING)  # type: ignore[union-attr]
            if ready >= want:  # replacements serve: the replicas on leaving nodes may go
                for r in leaving:
                    self._stop_replica(dep, r.job_id)
                leaving = []
            endpoints += [self._endpoint(dep, r, jobs[r.job_id]) for r in [*staying, *leaving]
                          if jobs[r.job_id].state is JobState.RUNNING]  # type: ignore[union-attr]
        return [d for d in deps.values() if d.state is DeploymentState.ACTIVE], endpoints

    def _autoscale(self, s: Session, dep: Deployment, load: Load | None, now: datetime) -> Deployment:
        if dep.state is not DeploymentState.ACTIVE or load is None:
            return dep
        decision = desired_replicas(dep, load, now)
        if decision.replicas == dep.desired_replicas:
            return dep
        scaled = dataclasses.replace(dep, desired_replicas=decision.replicas, updated_at=now)
        repo.save_deployment(s, scaled)
        self.audit.append(s, Entry("system:autoscaler", dep.org_id, "deployment.autoscale", dep.id,
                                   details={"from": dep.desired_replicas, "to": decision.replicas,
                                            "reason": decision.reason}))  # fmt: skip
        return scaled

    def _start_replica(self, dep: Deployment) -> None:
        port = _free_port(self.runtime.replica_host)
        spec = JobSpec(
            name=f"{dep.name}-replica"[:100], project=dep.project_id, command=self._command(dep), gpus=dep.gpus,
            tier=dep.tier, image=dep.image, env={REPLICA_PORT_ENV: str(port), "BRIQUE_MODEL": dep.model,
                                                  "BRIQUE_DEPLOYMENT": dep.name},
            placement=dep.placement, max_runtime_s=REPLICA_MAX_RUNTIME_S, grace_s=10.0, retries=0,
            labels={DEPLOYMENT_LABEL: dep.id},
        )  # fmt: skip
        try:
            job = self.jobs.submit(_acting_for(dep), spec).job
        except BriqueError as exc:  # e.g. a budget hard stop: recorded once, tried again next step
            if self._refused.get(dep.id) != str(exc):
                self._refused[dep.id] = str(exc)
                with self.db.transaction() as s:
                    self.audit.append(s, Entry("system:deployments", dep.org_id, "deployment.replica", dep.id,
                                               outcome="refused", details={"reason": str(exc)}))  # fmt: skip
            return
        self._refused.pop(dep.id, None)
        with self.db.transaction() as s:
            repo.add_replica(s, Replica(job.id, dep.id, port, self.clock.now()))

    def replace_replica(self, job_id: str, why: str) -> None:
        """Stop a replica that fails its health checks; the next step starts a fresh one."""
        with self.db.transaction() as s:
            found = [r for r in repo.replicas(s) if r.job_id == job_id]
            dep = repo.get_deployment(s, found[0].deployment_id) if found else None
            if dep is not None:
                self.audit.append(s, Entry("system:deployments", dep.org_id, "deployment.replica.replace", job_id,
                                           details={"deployment": dep.id, "reason": why}))  # fmt: skip
        if dep is not None:
            self._stop_replica(dep, job_id)

    def _stop_replica(self, dep: Deployment, job_id: str) -> None:
        with contextlib.suppress(Conflict):  # it ended on its own meanwhile; the next step drops it
            self.jobs.cancel(_acting_for(dep), job_id)

    def _command(self, dep: Deployment) -> str:
        port = f"${REPLICA_PORT_ENV}"
        model = shlex.quote(dep.model)
        if dep.runtime in ("embeddings", "echo", "ngram"):
            return (f"exec {shlex.quote(self.runtime.python)} -m brique.agent.serve --runtime {dep.runtime} "
                    f"--model {model} --host {self.runtime.replica_host} --port {port}")  # fmt: skip
        if dep.runtime == "vllm":
            return f"exec vllm serve {model} --host 0.0.0.0 --port {port} --tensor-parallel-size {dep.gpus}"
        return dep.command or ""

    def _endpoint(self, dep: Deployment, r: Replica, job: JobRecord) -> Endpoint:
        return Endpoint(dep, r.job_id, f"http://{self.runtime.replica_host}:{r.port}", job.site_id)

def _on(job: JobRecord | None, nodes: set[str]) -> bool:
    return job is not None and any(node_of(g) in nodes for g in job.gpu_ids)


def _acting_for(dep: Deployment) -> Principal:
    """The deployment acts with its creator's org as a member (replicas are its creator's jobs)."""
    return Principal(user_id=dep.created_by, key_id=f"deployment:{dep.id}", role=Role.TENANT_MEMBER,
                     org_id=dep.org_id)  # fmt: skip


def _free_port(host: str) -> int:
    """A port free right now on `host` (the replica binds it; if it lost a race it exits and is replaced)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
