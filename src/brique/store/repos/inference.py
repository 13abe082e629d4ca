"""Deployments, their replica jobs, gateway keys and token usage. Rows never leave this module."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brique.domain.inference import (
    Deployment,
    DeploymentState,
    InferenceKey,
    Replica,
    TokenTotals,
    TokenUsage,
)
from brique.domain.job_lifecycle import placement_from_dict, placement_to_dict
from brique.domain.jobs import Tier
from brique.store.inference_tables import DeploymentRow, InferenceKeyRow, ReplicaRow, TokenUsageRow


def deployment_row_to_domain(row: DeploymentRow) -> Deployment:
    return Deployment(
        id=row.id, org_id=row.org_id, project_id=row.project_id, name=row.name, model=row.model,
        runtime=row.runtime, command=row.command, image=row.image, gpus=row.gpus, min_replicas=row.min_replicas,
        max_replicas=row.max_replicas, tier=Tier(row.tier), placement=placement_from_dict(row.placement),
        desired_replicas=row.desired_replicas, state=DeploymentState(row.state), created_by=row.created_by,
        created_at=row.created_at, updated_at=row.updated_at, target_inflight=row.target_inflight,
        idle_s=float(row.idle_s),
    )  # fmt: skip


def _fill(row: DeploymentRow, d: Deployment) -> None:
    row.org_id, row.project_id, row.name, row.model, row.runtime = d.org_id, d.project_id, d.name, d.model, d.runtime
    row.command, row.image, row.gpus, row.tier = d.command, d.image, d.gpus, d.tier.value
    row.min_replicas, row.max_replicas, row.desired_replicas = d.min_replicas, d.max_replicas, d.desired_replicas
    row.placement, row.state = placement_to_dict(d.placement), d.state.value
    row.target_inflight, row.idle_s = d.target_inflight, int(d.idle_s)
    row.created_by, row.created_at, row.updated_at = d.created_by, d.created_at, d.updated_at


def save_deployment(s: Session, d: Deployment) -> None:
    row = s.get(DeploymentRow, d.id)
    if row is None:
        row = DeploymentRow(id=d.id)
        s.add(row)
    _fill(row, d)
    s.flush()


def deployment_by_name(s: Session, org_id: str, ref: str) -> Deployment | None:
    q = select(DeploymentRow).where(DeploymentRow.org_id == org_id, DeploymentRow.state == "active",
                                    (DeploymentRow.name == ref) | (DeploymentRow.id == ref))  # fmt: skip
    row = s.scalars(q).first()
    return deployment_row_to_domain(row) if row else None


def get_deployment(s: Session, deployment_id: str) -> Deployment | None:
    row = s.get(DeploymentRow, deployment_id)
    return deployment_row_to_domain(row) if row else None


def deployments(s: Session, org_id: str | None = None, active_only: bool = True) -> list[Deployment]:
    q = select(DeploymentRow).order_by(DeploymentRow.created_at)
    if org_id is not None:
        q = q.where(DeploymentRow.org_id == org_id)
    if active_only:
        q = q.where(DeploymentRow.state == DeploymentState.ACTIVE.value)
    return [deployment_row_to_domain(r) for r in s.scalars(q)]


def add_replica(s: Session, r: Replica) -> None:
    s.add(ReplicaRow(job_id=r.job_id, deployment_id=r.deployment_id, port=r.port, created_at=r.created_at))


def replicas(s: Session, deployment_ids: Iterable[str] | None = None) -> list[Replica]:
    q = select(ReplicaRow).order_by(ReplicaRow.created_at)
    if deployment_ids is not None:
        q = q.where(ReplicaRow.deployment_id.in_(list(deployment_ids)))
    return [Replica(r.job_id, r.deployment_id, r.port, r.created_at) for r in s.scalars(q)]


def drop_replicas(s: Session, job_ids: Iterable[str]) -> None:
    for job_id in job_ids:
        row = s.get(ReplicaRow, job_id)
        if row is not None:
            s.delete(row)


def key_row_to_domain(row: InferenceKeyRow) -> InferenceKey:
    return InferenceKey(id=row.id, org_id=row.org_id, name=row.name, deployments=tuple(row.deployments),
                        requests_per_min=row.requests_per_min, tokens_per_min=row.tokens_per_min,
                        created_by=row.created_by, created_at=row.created_at, revoked_at=row.revoked_at)  # fmt: skip


def add_key(s: Session, key: InferenceKey, lookup: str, secret_hash: str) -> None:
    s.add(InferenceKeyRow(id=key.id, org_id=key.org_id, name=key.name, lookup=lookup, secret_hash=secret_hash,
                          deployments=list(key.deployments), requests_per_min=key.requests_per_min,
                          tokens_per_min=key.tokens_per_min, created_by=key.created_by, created_at=key.created_at))  # fmt: skip


def key_by_lookup(s: Session, lookup: str) -> tuple[InferenceKey, str] | None:
    row = s.scalars(select(InferenceKeyRow).where(InferenceKeyRow.lookup == lookup)).first()
    return (key_row_to_domain(row), row.secret_hash) if row else None


def keys(s: Session, org_id: str) -> list[InferenceKey]:
    q = select(InferenceKeyRow).where(InferenceKeyRow.org_id == org_id).order_by(InferenceKeyRow.created_at)
    return [key_row_to_domain(r) for r in s.scalars(q)]


def revoke_key(s: Session, org_id: str, key_id: str, at: datetime) -> InferenceKey | None:
    row = s.get(InferenceKeyRow, key_id)
    if row is None or row.org_id != org_id:
        return None
    row.revoked_at = row.revoked_at or at
    return key_row_to_domain(row)


def add_usage(s: Session, records: Iterable[TokenUsage]) -> None:
    s.add_all([TokenUsageRow(org_id=u.org_id, project_id=u.project_id, deployment_id=u.deployment_id,
                             key_id=u.key_id, model=u.model, prompt_tokens=u.prompt_tokens,
                             completion_tokens=u.completion_tokens, site_id=u.site_id, at=u.at) for u in records])  # fmt: skip


def token_totals(s: Session, org_id: str | None, start: datetime, end: datetime) -> list[TokenTotals]:
    """Tokens per (org, project, deployment, key) for requests in [start, end)."""
    t = TokenUsageRow
    q = (
        select(t.org_id, t.project_id, t.deployment_id, func.coalesce(DeploymentRow.name, t.model), t.key_id,
               func.count(), func.sum(t.prompt_tokens), func.sum(t.completion_tokens))
        .outerjoin(DeploymentRow, DeploymentRow.id == t.deployment_id)
        .where(t.at >= start, t.at < end)
        .group_by(t.org_id, t.project_id, t.deployment_id, DeploymentRow.name, t.model, t.key_id)
        .order_by(t.org_id, t.deployment_id, t.key_id)
    )  # fmt: skip
    if org_id is not None:
        q = q.where(t.org_id == org_id)
    return [TokenTotals(o, p, d, n, k, int(c), int(pt or 0), int(ct or 0)) for o, p, d, n, k, c, pt, ct in s.execute(q)]
