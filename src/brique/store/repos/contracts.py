"""Capacity contracts: one row per org and site (or fleet-wide), converted to domain contracts.

Every replacement of an org's contracts is a new version, kept whole in `contract_versions`
(what billing reads for a past month); the `contracts` rows are the current version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from brique.domain.contracts import Contract, ContractRecord
from brique.store.commerce_tables import ContractVersionRow
from brique.store.tables import ContractRow


def contract_row_to_domain(row: ContractRow) -> ContractRecord:
    return ContractRecord(contract_from_dict(row.org_id, _row_dict(row)), row.updated_at, row.version)


def _row_dict(row: ContractRow) -> dict[str, Any]:
    return {"site": row.site_id, "guaranteed_gpus": row.guaranteed_gpus, "weight": row.weight,
            "may_borrow": row.may_borrow, "borrow_cap": row.borrow_cap,
            "monthly_commitment": str(row.monthly_commitment or 0), "rates": dict(row.rates or {}),
            "overage_rate": None if row.overage_rate is None else str(row.overage_rate),
            "currency": row.currency or "EUR",
            "starts_on": row.starts_on.isoformat() if row.starts_on else None,
            "ends_on": row.ends_on.isoformat() if row.ends_on else None,
            "budget_exempt_tiers": list(row.budget_exempt_tiers or []),
            "inference_requests_per_min": row.inference_requests_per_min,
            "inference_tokens_per_min": row.inference_tokens_per_min}  # fmt: skip


def contract_to_dict(c: Contract) -> dict[str, Any]:
    return {"site": c.site, "guaranteed_gpus": c.guaranteed_gpus, "weight": c.weight, "may_borrow": c.may_borrow,
            "borrow_cap": c.borrow_cap, "monthly_commitment": str(c.monthly_commitment),
            "rates": {t: str(r) for t, r in c.rates}, "currency": c.currency,
            "overage_rate": None if c.overage_rate is None else str(c.overage_rate),
            "starts_on": c.starts_on.isoformat() if c.starts_on else None,
            "ends_on": c.ends_on.isoformat() if c.ends_on else None,
            "budget_exempt_tiers": sorted(c.budget_exempt_tiers),
            "inference_requests_per_min": c.inference_requests_per_min,
            "inference_tokens_per_min": c.inference_tokens_per_min}  # fmt: skip


def contract_from_dict(org_id: str, d: dict[str, Any]) -> Contract:
    day = date.fromisoformat
    return Contract(
        tenant=org_id, guaranteed_gpus=d["guaranteed_gpus"], weight=d["weight"], may_borrow=d["may_borrow"],
        borrow_cap=d["borrow_cap"], site=d["site"], monthly_commitment=Decimal(d["monthly_commitment"]),
        rates=tuple(sorted((t, Decimal(r)) for t, r in d["rates"].items())),
        overage_rate=None if d["overage_rate"] is None else Decimal(d["overage_rate"]), currency=d["currency"],
        starts_on=day(d["starts_on"]) if d["starts_on"] else None, ends_on=day(d["ends_on"]) if d["ends_on"] else None,
        budget_exempt_tiers=frozenset(d["budget_exempt_tiers"]),
        # versions stored before migration 0015 have no gateway limits
        inference_requests_per_min=d.get("inference_requests_per_min"),
        inference_tokens_per_min=d.get("inference_tokens_per_min"),
    )  # fmt: skip


def all_contracts(session: Session) -> list[Contract]:
    q = select(ContractRow).order_by(ContractRow.org_id, ContractRow.id)
    return [contract_row_to_domain(row).terms for row in session.scalars(q)]


def for_org(session: Session, org_id: str) -> list[ContractRecord]:
    q = select(ContractRow).where(ContractRow.org_id == org_id).order_by(ContractRow.id)
    return [contract_row_to_domain(row) for row in session.scalars(q)]


def current_version(session: Session, org_id: str) -> int:
    q = select(func.max(ContractVersionRow.version)).where(ContractVersionRow.org_id == org_id)
    return session.scalar(q) or 0


def version_at(session: Session, org_id: str, at: datetime) -> tuple[int, list[Contract]]:
    """The org's contracts as of `at` (version 0 and none before the first)."""
    q = (select(ContractVersionRow).where(ContractVersionRow.org_id == org_id, ContractVersionRow.at < at)
         .order_by(ContractVersionRow.version.desc()).limit(1))  # fmt: skip
    row = session.scalars(q).first()
    if row is None:
        return 0, []
    return row.version, [contract_from_dict(org_id, d) for d in row.terms]


def versions(session: Session, org_id: str) -> list[ContractVersionRow]:
    q = select(ContractVersionRow).where(ContractVersionRow.org_id == org_id).order_by(ContractVersionRow.version)
    return list(session.scalars(q))


def replace_for_org(
    session: Session, org_id: str, contracts: Iterable[Contract], at: datetime, by: str = "system"
) -> list[ContractRecord]:
    """Replace the org's contracts with a new version (the history row makes concurrent changes
    collide on the unique (org, version) instead of silently interleaving)."""
    items = list(contracts)
    version = current_version(session, org_id) + 1
    session.add(ContractVersionRow(org_id=org_id, version=version, terms=[contract_to_dict(c) for c in items],
                                   changed_by=by, at=at))  # fmt: skip
    session.execute(delete(ContractRow).where(ContractRow.org_id == org_id))
    rows = [
        ContractRow(org_id=org_id, site_id=c.site, guaranteed_gpus=c.guaranteed_gpus, weight=c.weight,
                    may_borrow=c.may_borrow, borrow_cap=c.borrow_cap, updated_at=at,
                    monthly_commitment=c.monthly_commitment, rates={t: str(r) for t, r in c.rates},
                    overage_rate=c.overage_rate, currency=c.currency, starts_on=c.starts_on, ends_on=c.ends_on,
                    budget_exempt_tiers=sorted(c.budget_exempt_tiers), version=version,
                    inference_requests_per_min=c.inference_requests_per_min,
                    inference_tokens_per_min=c.inference_tokens_per_min)
        for c in items
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [contract_row_to_domain(row) for row in rows]
