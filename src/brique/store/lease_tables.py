"""ORM row for the leader lease (migration 0006)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from brique.store.tables import Base
from brique.store.types import UtcDateTime


class LeaseRow(Base):
    """One row per lease name; `term` is the fencing token (grows at each change of leader)."""

    __tablename__ = "leader_leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    replica_id: Mapped[str] = mapped_column(String(40))
    term: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UtcDateTime())
    renewed_at: Mapped[datetime] = mapped_column(UtcDateTime())
