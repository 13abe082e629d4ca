"""Readiness: can this control plane reach its database, and what does it serve."""

from __future__ import annotations

from brique.domain.fleet import Fleet
from brique.store.db import Database


class HealthService:
    def __init__(self, db: Database, fleet: Fleet) -> None:
        self.db = db
        self.fleet = fleet

    def ready(self) -> dict[str, str]:
        """Raises `Unavailable` when the database does not answer."""
        return {"status": "ready", "database": self.db.ping(), "fleet": self.fleet.name}
