"""Token usage read back for billing: totals per (project, deployment), priced by the price book."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from brique.domain.inference import TokenTotals
from brique.domain.pricing import PriceBook
from brique.domain.token_pricing import TokenCharge, token_charges
from brique.store.db import Database
from brique.store.repos import inference as repo
from brique.store.repos import tenancy as tenancy_repo


class TokenMeter:
    def __init__(self, db: Database) -> None:
        self.db = db

    def totals(self, org_id: str | None, start: datetime, end: datetime) -> list[TokenTotals]:
        """Requests and tokens per (org, project, deployment, key) in [start, end)."""
        with self.db.transaction() as s:
            return repo.token_totals(s, org_id, _utc(start), _utc(end))

    def charges(self, org_id: str, start: datetime, end: datetime, book: PriceBook) -> list[TokenCharge]:
        with self.db.transaction() as s:
            totals = repo.token_totals(s, org_id, _utc(start), _utc(end))
            models = {d.id: d.model for d in repo.deployments(s, org_id, active_only=False)}
            names = {p.id: p.name for p in tenancy_repo.list_projects(s, org_id)} if totals else {}
        out = token_charges(totals, models, book.tokens, start, end)
        return [_named(c, names.get(c.project_id, c.project_id)) for c in out]


def _named(c: TokenCharge, project: str) -> TokenCharge:
    return dataclasses.replace(c, project=project)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
