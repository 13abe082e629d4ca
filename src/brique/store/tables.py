"""ORM rows (`*Row`). Converters to domain/schemas live in the repos, never in routers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from brique.store.types import UtcDateTime


class Base(DeclarativeBase):
    pass


class FleetRow(Base):
    """The loaded fleet description; `fingerprint` lets a restart skip re-inserting it."""

    __tablename__ = "fleets"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1024))
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SiteRow(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    fleet_name: Mapped[str] = mapped_column(ForeignKey("fleets.name", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(63))
    country: Mapped[str] = mapped_column(String(2))
    jurisdiction: Mapped[str] = mapped_column(String(63))
    operator_name: Mapped[str] = mapped_column(String(200))
    operator_country: Mapped[str] = mapped_column(String(2))
    certifications: Mapped[list[str]] = mapped_column(JSON)
    pue: Mapped[float] = mapped_column(Float)
    grid_gco2e_per_kwh: Mapped[float] = mapped_column(Float)
    executor: Mapped[str] = mapped_column(String(20))


class RackRow(Base):
    __tablename__ = "racks"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    gpu_model: Mapped[str] = mapped_column(String(63))
    gpu_power_w: Mapped[float] = mapped_column(Float)


class NodeRow(Base):
    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    rack_id: Mapped[str] = mapped_column(ForeignKey("racks.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    gpu_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="up")
    state_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class GpuRow(Base):
    __tablename__ = "gpus"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="up")


class OrgRow(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    suspended_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_projects_org_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class UserRow(Base):
    """A person or service identity. Operator identities have no org; tenant identities have one."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdpLinkRow(Base):
    """A user's identity at an org's identity provider: (issuer, subject) is stable where emails change."""

    __tablename__ = "idp_links"
    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKeyRow(Base):
    """An API key. Only a SHA-256 of its secret is stored; `lookup` is its public part."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user", "user_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class JobRow(Base):
    """A job and its current attempt. `version` guards every state change (optimistic locking)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key", name="uq_jobs_org_idempotency"),
        Index("ix_jobs_state_version", "state", "version"),  # covers the loop's count and version sum
        Index("ix_jobs_org_submitted", "org_id", "submitted_at"),
        Index("ix_jobs_org_state", "org_id", "state"),  # the pending quota, counted on every submission
        Index("ix_jobs_updated_at", "updated_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    gpus: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retries_left: Mapped[int] = mapped_column(Integer, default=0)
    site_id: Mapped[str | None] = mapped_column(String(63), nullable=True)
    gpu_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    stop_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    wait_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    wait_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # a task of a job array: the array's id, this task's index, the array's running limit
    array_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    array_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    array_max_running: Mapped[int | None] = mapped_column(Integer, nullable=True)


class JobEventRow(Base):
    """One state transition of a job, with its reason. Append-only."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_org_at", "org_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempt: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))


class ContractRow(Base):
    """A tenant's capacity contract, fleet-wide (`site_id` NULL) or for one site."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("org_id", "site_id", name="uq_contracts_org_site"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str | None] = mapped_column(String(63), nullable=True)
    guaranteed_gpus: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    may_borrow: Mapped[bool] = mapped_column(default=True)
    borrow_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # commercial terms (migration 0005; see domain/contracts.py)
    monthly_commitment: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    rates: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # tier -> EUR per GPU-hour
    overage_rate: Mapped[Decimal | None] = mapped_column(Numeric(12, 4), nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    starts_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    budget_exempt_tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # the org's inference gateway limits (migration 0015; NULL: the operator's default)
    inference_requests_per_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inference_tokens_per_min: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TenantUsageRow(Base):
    """Decayed GPU-seconds per tenant, for fair share (see scheduler/fairshare.py)."""

    __tablename__ = "tenant_usage"
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    decayed_gpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NodeAgentRow(Base):
    """The agent serving a `local` node: its last heartbeat decides whether the node is alive."""

    __tablename__ = "node_agents"
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40))
    gpus: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())


# -- sovereignty --------------------------------------------------------------------------------


class PlacementPolicyRow(Base):
    """An org's residency policy (`project_id` NULL) or a project's narrowing of it."""

    __tablename__ = "placement_policies"
    __table_args__ = (UniqueConstraint("org_id", "project_id", name="uq_policies_org_project"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    policy: Mapped[dict] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditRecordRow(Base):
    """One audit record, hash-chained to its predecessor (see domain/audit.py)."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_org_seq", "org_id", "seq"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(63), nullable=True)
    details: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's head (one row, locked by every append) and its retention anchor."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(Integer, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signature of the chain head at `seq` by the platform key."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(100))
    signature: Mapped[str] = mapped_column(String(200))


class AccessRequestRow(Base):
    """An operator's request to read a tenant's data (lockbox), and its decision."""

    __tablename__ = "access_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    scope_kind: Mapped[str] = mapped_column(String(16))  # job | project
    scope_id: Mapped[str] = mapped_column(String(40))
    justification: Mapped[str] = mapped_column(String(2000))
    duration_s: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # pending approved denied revoked (expired is derived)
    break_glass: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class NotificationRow(Base):
    """Something the tenant must know at once (e.g. a break-glass access to its data)."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(2000))


class WrappedKeyRow(Base):
    """A platform key (e.g. the console's cookie key) shared by every replica, wrapped by the KEK."""

    __tablename__ = "wrapped_keys"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TenantKeyRow(Base):
    """A tenant's data key, wrapped by the key-encryption key. Destroyed at contract end."""

    __tablename__ = "tenant_keys"
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    wrapped_dek: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    certificate: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class SecretRow(Base):
    """A tenant secret: AES-256-GCM ciphertext under the tenant's data key."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_secrets_org_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
