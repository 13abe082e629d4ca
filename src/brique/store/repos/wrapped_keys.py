"""Platform keys every replica shares, stored only wrapped by the key-encryption key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from brique.store.tables import WrappedKeyRow


def get(session: Session, name: str) -> bytes | None:
    row = session.get(WrappedKeyRow, name)
    return row.wrapped if row is not None else None


def add(session: Session, name: str, wrapped: bytes, now: datetime) -> None:
    session.add(WrappedKeyRow(name=name, wrapped=wrapped, created_at=now))
    session.flush()
