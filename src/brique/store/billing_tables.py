"""ORM rows for metering, budgets and budget alerts (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from brique.store.tables import Base
from brique.store.types import UtcDateTime


class UsageRecordRow(Base):
    """One attempt of one job holding GPUs: recomputed from the job's events, upserted by (job, attempt)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", name="uq_usage_records_job_attempt"),
        Index("ix_usage_records_org_started", "org_id", "started_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    job_name: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str] = mapped_column(String(63))
    gpus: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    end_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MeteringCursorRow(Base):
    """How far the collector has read the job events (it re-reads a safety window behind it)."""

    __tablename__ = "metering_cursor"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BudgetRow(Base):
    """A monthly EUR budget for an org (`project_id` NULL) or one of its projects."""

    __tablename__ = "budgets"
    __table_args__ = (Index("ix_budgets_org", "org_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    thresholds: Mapped[list[int]] = mapped_column(JSON)
    hard_stop: Mapped[bool] = mapped_column(default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_by: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BudgetAlertRow(Base):
    """A threshold of a budget reached in a month: recorded once, listed by the tenant."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("budget_id", "month", "threshold", name="uq_budget_alerts_once"),
        Index("ix_budget_alerts_org_at", "org_id", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    month: Mapped[str] = mapped_column(String(7))
    threshold: Mapped[int] = mapped_column(Integer)
    spent: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    message: Mapped[str] = mapped_column(String(500))
    webhook_status: Mapped[str | None] = mapped_column(String(200), nullable=True)
