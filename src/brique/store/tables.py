"""ORM rows (`*Row`). Converters to domain/schemas live in the repos, never in routers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
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
