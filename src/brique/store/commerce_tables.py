"""ORM rows for contract versions, capacity reservations, project governance and invoice
numbering (migration 0010)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from brique.store.tables import Base
from brique.store.types import UtcDateTime


class ContractVersionRow(Base):
    """Every change of an org's contracts: the full set of terms as of that version (history)."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("org_id", "version", name="uq_contract_versions_org_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReservationRow(Base):
    """A capacity window booked for an org: requested by its tenant or created by an operator."""

    __tablename__ = "reservations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(63))
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    racks: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)  # requested | approved | cancelled
    requested_by: Mapped[str] = mapped_column(String(40))
    approved_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProjectGovernanceRow(Base):
    """A project's quota (max concurrent GPUs), fair-share weight inside its org, guaranteed share."""

    __tablename__ = "project_governance"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    max_gpus: Mapped[int | None] = mapped_column(Integer, nullable=True)
    weight: Mapped[Decimal] = mapped_column(Numeric(10, 3), default=Decimal(1))
    guaranteed_gpus: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProjectMemberRow(Base):
    """A user's role in one project: project-admin, member or viewer."""

    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id", name="uq_project_members_project_user"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InvoiceCounterRow(Base):
    """The last number issued per issuer and year; bumped inside the issuing transaction (no gaps)."""

    __tablename__ = "invoice_counters"
    issuer: Mapped[str] = mapped_column(String(63), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class IssuedInvoiceRow(Base):
    """An issued invoice or credit note: its number, dates and the document as issued (frozen)."""

    __tablename__ = "issued_invoices"
    __table_args__ = (UniqueConstraint("issuer", "number", name="uq_issued_invoices_issuer_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(63))
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # invoice | credit_note
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    corrects: Mapped[str | None] = mapped_column(String(40), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BillingProfileRow(Base):
    """What a customer's invoices print: its legal name, VAT number and address."""

    __tablename__ = "billing_profiles"
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    vat_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    legal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
