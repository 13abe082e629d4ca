"""Deployment use cases: deploy, list, show, scale, delete, and the gateway's keys.

The replicas themselves are kept by `ReplicaSet` (services/inference/replicas.py), mixed in here.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.crypto import apikeys
from brique.domain.contracts import inference_limits
from brique.domain.inference import Deployment, DeploymentState, InferenceKey, Replica
from brique.domain.job_lifecycle import JobSpec
from brique.domain.job_records import JobRecord
from brique.domain.tenancy import Action, Principal
from brique.errors import InvalidInput, NotFound, TenantOnly, Unauthenticated
from brique.ids import IdFactory, new_id
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.services.inference.replicas import REPLICA_MAX_RUNTIME_S, ReplicaSet, RuntimeConfig
from brique.services.jobs import JobService
from brique.store.db import Database
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import inference as repo
from brique.store.repos import jobs as jobs_repo
from brique.store.repos import tenancy as tenancy_repo


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    name: str
    project: str
    model: str
    runtime: str
    gpus: int
    min_replicas: int
    max_replicas: int
    tier: object
    placement: object
    command: str | None = None
    image: str | None = None
    target_inflight: int = 4
    idle_s: float = 300.0


@dataclass(frozen=True, slots=True)
class ReplicaView:
    replica: Replica
    job: JobRecord | None


@dataclass(frozen=True, slots=True)
class DeploymentView:
    deployment: Deployment
    replicas: tuple[ReplicaView, ...]


@dataclass(frozen=True, slots=True)
class GatewayCaller:
    """Who calls the gateway: an org, a key id, its scope (None: every deployment), the key's limits
    and its org's (from the org's contract; None: the operator's default)."""

    org_id: str
    key_id: str
    scope: tuple[str, ...] | None
    requests_per_min: int | None = None
    tokens_per_min: int | None = None
    org_requests_per_min: int | None = None
    org_tokens_per_min: int | None = None

    def allows(self, deployment_id: str) -> bool:
        return self.scope is None or not self.scope or deployment_id in self.scope


class DeploymentService(ReplicaSet):
    def __init__(
        self, db: Database, clock: Clock, jobs: JobService, audit: AuditLog, runtime: RuntimeConfig,
        authenticate_tenant_key: object, ids: IdFactory = new_id,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.jobs = jobs
        self.audit = audit
        self.runtime = runtime
        self._tenant_auth = authenticate_tenant_key  # TenancyService.authenticate
        self.ids = ids
        self._reconciling = threading.Lock()  # the loop and a deploy call never start the same replica twice
        self._refused: dict[str, str] = {}  # deployment id -> last refusal, audited once, not every step

    # -- deploy / read / delete -----------------------------------------------------------------

    def deploy(self, who: Principal, spec: DeploymentSpec) -> Deployment:
        """Create the deployment, or update the one of that name (its replicas are replaced as they end)."""
        org_id = _tenant(who, Action.JOB_SUBMIT)
        _check(spec)
        verdict = self.jobs.dry_run(who, _replica_probe(spec))  # a replica must be able to run somewhere
        if verdict.verdict == "reject":
            raise InvalidInput(f"no replica of this deployment could ever run: {verdict.message}", field="gpus")
        now = self.clock.now()
        with self.db.transaction() as s:
            project = tenancy_repo.find_project(s, org_id, spec.project)
            if project is None:
                raise NotFound(f"project '{spec.project}' not found", field="project")
            earlier = repo.deployment_by_name(s, org_id, spec.name)
            dep = Deployment(
                id=earlier.id if earlier else self.ids("dep"), org_id=org_id, project_id=project.id,
                name=spec.name, model=spec.model, runtime=spec.runtime, command=spec.command, image=spec.image,
                gpus=spec.gpus, min_replicas=spec.min_replicas, max_replicas=spec.max_replicas,
                tier=spec.tier, placement=spec.placement,  # type: ignore[arg-type]
                desired_replicas=max(spec.min_replicas, 1) if earlier is None else
                min(max(earlier.desired_replicas, spec.min_replicas), spec.max_replicas),
                state=DeploymentState.ACTIVE, created_by=earlier.created_by if earlier else who.user_id,
                created_at=earlier.created_at if earlier else now, updated_at=now,
                target_inflight=spec.target_inflight, idle_s=spec.idle_s,
            )  # fmt: skip
            if dep.guaranteed:
                dep = dataclasses.replace(dep, desired_replicas=max(dep.desired_replicas, dep.min_replicas, 1))
            repo.save_deployment(s, dep)
            self.audit.append(s, Entry(who.user_id, org_id, "deployment.update" if earlier else "deployment.create",
                                       dep.id, details={"name": dep.name, "model": dep.model, "gpus": dep.gpus,
                                                        "replicas": [dep.min_replicas, dep.max_replicas],
                                                        "placement": dep.placement.label}))  # fmt: skip
        self.reconcile({})
        return dep

    def list(self, who: Principal) -> list[DeploymentView]:
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            org = None if who.is_operator else who.org_id
            deps = repo.deployments(s, org)
            return [self._view(s, d) for d in deps]

    def get(self, who: Principal, ref: str) -> DeploymentView:
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            return self._view(s, self._find(s, who, ref))

    def delete(self, who: Principal, ref: str) -> Deployment:
        org_id = _tenant(who, Action.JOB_CANCEL)
        now = self.clock.now()
        with self.db.transaction() as s:
            dep = self._find(s, who, ref)
            dep = dataclasses.replace(dep, state=DeploymentState.DELETED, desired_replicas=0, updated_at=now)
            repo.save_deployment(s, dep)
            self.audit.append(s, Entry(who.user_id, org_id, "deployment.delete", dep.id, details={"name": dep.name}))
        self.reconcile({})
        return dep

    def scale(self, who: Principal, ref: str, min_replicas: int, max_replicas: int) -> Deployment:
        org_id = _tenant(who, Action.JOB_SUBMIT)
        now = self.clock.now()
        with self.db.transaction() as s:
            dep = self._find(s, who, ref)
            _check_replicas(min_replicas, max_replicas, dep.tier)
            desired = min(max(dep.desired_replicas, min_replicas), max_replicas)
            dep = dataclasses.replace(dep, min_replicas=min_replicas, max_replicas=max_replicas,
                                      desired_replicas=desired, updated_at=now)  # fmt: skip
            repo.save_deployment(s, dep)
            self.audit.append(s, Entry(who.user_id, org_id, "deployment.scale", dep.id,
                                       details={"min": min_replicas, "max": max_replicas}))  # fmt: skip
        self.reconcile({})
        return dep

    def _find(self, s: Session, who: Principal, ref: str) -> Deployment:
        dep = None if who.org_id is None else repo.deployment_by_name(s, who.org_id, ref)
        if dep is None and who.is_operator:
            dep = repo.get_deployment(s, ref)
        if dep is None:
            raise NotFound(f"deployment '{ref}' not found", field="deployment")
        return dep

    @staticmethod
    def _view(s: Session, dep: Deployment) -> DeploymentView:
        views = tuple(ReplicaView(r, jobs_repo.get(s, r.job_id)) for r in repo.replicas(s, [dep.id]))
        return DeploymentView(dep, views)

    # -- keys -----------------------------------------------------------------------------------

    def create_key(
        self, who: Principal, name: str, deployments: list[str], requests_per_min: int | None,
        tokens_per_min: int | None,
    ) -> tuple[InferenceKey, str]:  # fmt: skip
        """A gateway key scoped to `deployments` (names or ids; empty: all of the org's). The token is shown once."""
        org_id = _tenant(who, Action.JOB_SUBMIT)
        issued = apikeys.issue()
        with self.db.transaction() as s:
            ids = tuple(self._find(s, who, ref).id for ref in deployments)
            key = InferenceKey(id=self.ids("ikey"), org_id=org_id, name=name, deployments=ids,
                               requests_per_min=requests_per_min, tokens_per_min=tokens_per_min,
                               created_by=who.user_id, created_at=self.clock.now())  # fmt: skip
            repo.add_key(s, key, issued.lookup, issued.secret_hash)
            self.audit.append(s, Entry(who.user_id, org_id, "inference.key.create", key.id,
                                       details={"deployments": list(ids), "rpm": requests_per_min,
                                                "tpm": tokens_per_min}))  # fmt: skip
        return key, issued.token

    def list_keys(self, who: Principal) -> list[InferenceKey]:
        org_id = _tenant(who, Action.JOB_READ)
        with self.db.transaction() as s:
            return repo.keys(s, org_id)

    def revoke_key(self, who: Principal, key_id: str) -> InferenceKey:
        org_id = _tenant(who, Action.JOB_SUBMIT)
        with self.db.transaction() as s:
            key = repo.revoke_key(s, org_id, key_id, self.clock.now())
            if key is None:
                raise NotFound(f"inference key '{key_id}' not found", field="key_id")
            self.audit.append(s, Entry(who.user_id, org_id, "inference.key.revoke", key.id))
        return key

    def authenticate(self, token: str | None) -> GatewayCaller:
        """A gateway key (scoped), or a tenant API key (every deployment of its org)."""
        parsed = apikeys.parse(token or "")
        if parsed is not None:
            with self.db.transaction() as s:
                found = repo.key_by_lookup(s, parsed[0])
                limits = self._org_limits(s, found[0].org_id) if found is not None else (None, None)
            if found is not None:
                key, secret_hash = found
                if not apikeys.matches(parsed[1], secret_hash) or key.revoked_at is not None:
                    raise Unauthenticated("invalid or revoked inference key")
                return GatewayCaller(key.org_id, key.id, key.deployments, key.requests_per_min, key.tokens_per_min,
                                     *limits)  # fmt: skip
        who: Principal = self._tenant_auth(token)  # type: ignore[operator]
        if who.org_id is None:
            raise TenantOnly("the inference gateway serves tenant keys; operator keys cannot call it")
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            limits = self._org_limits(s, who.org_id)
        return GatewayCaller(who.org_id, who.key_id, None, None, None, *limits)

    def _org_limits(self, s: Session, org_id: str) -> tuple[int | None, int | None]:
        """The org's gateway limits from its contracts in force (the edge keeps a caller, limits
        included, for a few seconds: a contract change reaches the gateway within that)."""
        return inference_limits([c.terms for c in contracts_repo.for_org(s, org_id)], self.clock.now().date())

    def record_usage(self, records: list) -> None:
        """Persist token usage buffered by the gateway (one transaction per batch)."""
        if records:
            with self.db.transaction() as s:
                repo.add_usage(s, records)

    def token_totals(self, org_id: str | None, start: datetime, end: datetime) -> list:
        with self.db.transaction() as s:
            return repo.token_totals(s, org_id, start, end)


def _replica_probe(spec: DeploymentSpec) -> JobSpec:
    """A job shaped like the deployment's replicas, for the dry run that says whether one could ever run."""
    return JobSpec(name=f"{spec.name}-replica"[:100], project=spec.project, command="true", gpus=spec.gpus,
                   tier=spec.tier, placement=spec.placement, max_runtime_s=REPLICA_MAX_RUNTIME_S)  # type: ignore[arg-type]


def _check(spec: DeploymentSpec) -> None:
    if spec.runtime == "custom" and not spec.command:
        raise InvalidInput("runtime 'custom' needs a command (it must listen on $BRIQUE_REPLICA_PORT)",
                           field="command")  # fmt: skip
    _check_replicas(spec.min_replicas, spec.max_replicas, spec.tier)


def _check_replicas(lo: int, hi: int, tier: object) -> None:
    if hi < max(lo, 1):
        raise InvalidInput(f"replicas: max ({hi}) must be at least min ({lo}) and at least 1", field="replicas")
    if lo == 0 and getattr(tier, "value", tier) == "priority":
        raise InvalidInput("replicas: a priority (guaranteed) deployment keeps min >= 1; it never scales to zero",
                           field="replicas")  # fmt: skip


def _tenant(who: Principal, action: Action) -> str:
    require(who, action)
    if who.org_id is None:
        raise TenantOnly(f"'{action}' is a tenant action; operator keys cannot take it")
    return who.org_id
