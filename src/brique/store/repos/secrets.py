"""Tenant secrets (ciphertexts) and the tenants' wrapped data keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from brique.domain.secrets import Secret, TenantKey
from brique.store.tables import SecretRow, TenantKeyRow

# -- tenant keys ---------------------------------------------------------------------------------


def tenant_key(session: Session, org_id: str) -> TenantKey | None:
    row = session.get(TenantKeyRow, org_id)
    return TenantKey(row.org_id, row.wrapped_dek, row.destroyed_at) if row else None


def add_tenant_key(session: Session, org_id: str, wrapped_dek: bytes, now: datetime) -> None:
    session.add(TenantKeyRow(org_id=org_id, wrapped_dek=wrapped_dek, created_at=now))
    session.flush()


def destroy_tenant_key(session: Session, org_id: str, now: datetime, certificate: dict[str, Any]) -> None:
    """Drop the wrapped key (recording a destroyed one if the org never had a key) and keep the certificate."""
    key = session.get(TenantKeyRow, org_id)
    if key is None:
        key = TenantKeyRow(org_id=org_id, wrapped_dek=None, created_at=now)
        session.add(key)
    key.wrapped_dek, key.destroyed_at, key.certificate = None, now, certificate


# -- secrets -------------------------------------------------------------------------------------


def put(session: Session, org_id: str, name: str, ciphertext: bytes, by: str, now: datetime) -> None:
    """Create the secret or replace its value."""
    row = session.scalars(select(SecretRow).where(SecretRow.org_id == org_id, SecretRow.name == name)).first()
    if row is None:
        session.add(SecretRow(org_id=org_id, name=name, ciphertext=ciphertext, updated_by=by, updated_at=now))
    else:
        row.ciphertext, row.updated_by, row.updated_at = ciphertext, by, now


def list_secrets(session: Session, org_id: str) -> list[Secret]:
    q = select(SecretRow).where(SecretRow.org_id == org_id).order_by(SecretRow.name)
    return [Secret(r.name, r.updated_by, r.updated_at) for r in session.scalars(q)]


def all_names(session: Session, org_id: str) -> set[str]:
    return set(session.scalars(select(SecretRow.name).where(SecretRow.org_id == org_id)))


def sealed(session: Session, org_id: str, names: Sequence[str]) -> list[tuple[str, bytes]]:
    """(name, ciphertext) of those of `names` the org has."""
    q = select(SecretRow).where(SecretRow.org_id == org_id, SecretRow.name.in_(list(names)))
    return [(r.name, r.ciphertext) for r in session.scalars(q)]


def delete_one(session: Session, org_id: str, name: str) -> int:
    """How many were deleted (0 or 1)."""
    q = delete(SecretRow).where(SecretRow.org_id == org_id, SecretRow.name == name)
    return int(session.execute(q).rowcount)  # type: ignore[attr-defined]


def delete_all(session: Session, org_id: str) -> int:
    """Delete every secret of the org; returns how many there were."""
    count = len(list(session.scalars(select(SecretRow.id).where(SecretRow.org_id == org_id))))
    session.execute(delete(SecretRow).where(SecretRow.org_id == org_id))
    return count
