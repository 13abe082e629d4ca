"""Capacity contracts: one row per org and site (or fleet-wide), converted to domain contracts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from brique.domain.contracts import Contract, ContractRecord
from brique.store.tables import ContractRow


def contract_row_to_domain(row: ContractRow) -> ContractRecord:
    terms = Contract(tenant=row.org_id, guaranteed_gpus=row.guaranteed_gpus, weight=row.weight,
                     may_borrow=row.may_borrow, borrow_cap=row.borrow_cap, site=row.site_id)  # fmt: skip
    return ContractRecord(terms, row.updated_at)


def all_contracts(session: Session) -> list[Contract]:
    q = select(ContractRow).order_by(ContractRow.org_id, ContractRow.id)
    return [contract_row_to_domain(row).terms for row in session.scalars(q)]


def for_org(session: Session, org_id: str) -> list[ContractRecord]:
    q = select(ContractRow).where(ContractRow.org_id == org_id).order_by(ContractRow.id)
    return [contract_row_to_domain(row) for row in session.scalars(q)]


def replace_for_org(
    session: Session, org_id: str, contracts: Iterable[Contract], at: datetime
) -> list[ContractRecord]:
    session.execute(delete(ContractRow).where(ContractRow.org_id == org_id))
    rows = [
        ContractRow(org_id=org_id, site_id=c.site, guaranteed_gpus=c.guaranteed_gpus, weight=c.weight,
                    may_borrow=c.may_borrow, borrow_cap=c.borrow_cap, updated_at=at)
        for c in contracts
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [contract_row_to_domain(row) for row in rows]
