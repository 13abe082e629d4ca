"""Budgets: set and list them, raise alerts at thresholds (events + optional webhook), hard stop.

Who may: tenant admins set their org's budgets, operator admins any org's; everyone who may
read contracts may list budgets and alerts. `evaluate()` runs as scheduler-loop housekeeping
(at most every `interval_s`): each threshold of each budget is alerted once per month (a unique
row), then its webhook, if any, gets a JSON POST outside the transaction; the delivery outcome
is kept on the alert. `admission_check` is appended to `JobService.admission`: a job of any tier
is refused with `BudgetExceeded` (HTTP 402) while a hard-stop budget of its org or project is
spent, unless the org's contract exempts its tier (`budget_exempt_tiers`, shown on the invoice). It reads usage as last collected (one cycle behind at most) plus running attempts
up to now, and never writes (it runs inside the submit transaction).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.budgets import (
    Budget,
    BudgetAlert,
    BudgetTerms,
    crossed,
    exceeded,
    normalize_thresholds,
    percent_used,
)
from brique.domain.invoices import Invoice
from brique.domain.job_lifecycle import JobSpec
from brique.domain.jobs import Tier
from brique.domain.tenancy import Organization, Principal, Role
from brique.errors import BudgetExceeded, Duplicate, InvalidInput, NotFound, PermissionDenied
from brique.services.billing import BillingService
from brique.store.db import Database
from brique.store.repos import budgets as repo
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import tenancy as tenancy_repo

log = logging.getLogger("brique.budgets")
MANAGERS = frozenset({Role.TENANT_ADMIN, Role.OPERATOR_ADMIN})
Notifier = Callable[[str, dict[str, Any]], str]


def public_address_problem(url: str) -> str | None:
    """Why a webhook URL may not be called (None: fine): tenants must not make the control plane
    reach loopback, private, link-local or reserved addresses (SSRF)."""
    host = urlsplit(url).hostname
    if not host:
        return "has no host"
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return f"host '{host}' does not resolve"
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            return f"host '{host}' is a non-public address ({ip})"
    return None


def post_webhook(url: str, payload: dict[str, Any], allow_private: bool = False) -> str:
    """POST the alert as JSON; returns a short delivery status (never raises, never echoes the answer)."""
    if not allow_private and (problem := public_address_problem(url)) is not None:
        return f"refused: {problem}"[:200]
    try:
        response = httpx.post(url, json=payload, timeout=5.0, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"[:200]
    return "delivered" if response.is_success else "failed"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget: Budget
    project: str | None
    month: str
    spent: Decimal
    percent: Decimal
    exceeded: bool


class BudgetService:
    def __init__(
        self, db: Database, clock: Clock, billing: BillingService, notify: Notifier | None = None,
        interval_s: float = 60.0, allow_private_webhooks: bool = False,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.billing = billing
        self.allow_private_webhooks = allow_private_webhooks
        self.notify = notify or (lambda url, payload: post_webhook(url, payload, allow_private_webhooks))
        self.interval_s = interval_s
        self._last: datetime | None = None

    # -- tenant use cases -----------------------------------------------------------------------

    def set(
        self, who: Principal, org_ref: str | None, project: str | None, amount: Decimal,
        thresholds: Sequence[int] = (), hard_stop: bool = False, webhook_url: str | None = None,
    ) -> BudgetStatus:  # fmt: skip
        org = self.billing.metering.org_for(who, org_ref)
        if who.role not in MANAGERS:
            raise PermissionDenied(f"role '{who.role}' may not set budgets (tenant-admin or operator-admin)")
        terms = _terms(amount, thresholds, hard_stop)
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise InvalidInput("webhook URL must be http:// or https://", field="webhook_url")
        if webhook_url is not None and not self.allow_private_webhooks:
            problem = public_address_problem(webhook_url)
            if problem is not None:
                raise InvalidInput(f"webhook URL {problem}; it must be a public address", field="webhook_url")
        with self.db.transaction() as s:
            project_id = self._project_id(s, org, project)
            budget = repo.upsert(s, org.id, project_id, terms, webhook_url, who.user_id, self.clock.now())
        return self._statuses(org, [budget])[0]

    def list(self, who: Principal, org_ref: str | None) -> list[BudgetStatus]:
        org = self.billing.metering.org_for(who, org_ref)
        with self.db.transaction() as s:
            budgets = repo.for_org(s, org.id)
        return self._statuses(org, budgets)

    def delete(self, who: Principal, org_ref: str | None, project: str | None) -> None:
        org = self.billing.metering.org_for(who, org_ref)
        if who.role not in MANAGERS:
            raise PermissionDenied(f"role '{who.role}' may not delete budgets")
        with self.db.transaction() as s:
            if not repo.delete(s, org.id, self._project_id(s, org, project)):
                raise NotFound("no such budget", field="project")

    def alerts(self, who: Principal, org_ref: str | None, limit: int = 200) -> list[BudgetAlert]:
        org = self.billing.metering.org_for(who, org_ref)
        with self.db.transaction() as s:
            return repo.alerts(s, org.id, limit)

    # -- housekeeping ---------------------------------------------------------------------------

    def evaluate_if_due(self) -> int:
        now = self.clock.now()
        if self._last is not None and (now - self._last).total_seconds() < self.interval_s:
            return 0
        self._last = now
        self.billing.metering.collect()
        return self.evaluate()

    def evaluate(self) -> int:
        """Record the thresholds crossed this month (once each) and notify; returns alerts raised."""
        now = self.clock.now()
        with self.db.transaction() as s:
            rows = repo.all_budgets(s)
            orgs = {r.org_id: tenancy_repo.find_org(s, r.org_id) for r in rows}
        raised: list[tuple[BudgetAlert, str | None]] = []
        for org_id, org in orgs.items():
            try:  # one org's failure must never hold back the other tenants' alerts
                if org is not None:
                    raised += self._evaluate_org(org, [r for r in rows if r.org_id == org_id], now)
            except Exception:
                log.exception("budget evaluation of org %s failed; skipped this round", org_id)
        for alert, url in raised:
            if url:
                self._deliver(alert, url)
        return len(raised)

    def _evaluate_org(
        self, org: Organization, budgets: list[Budget], now: datetime
    ) -> list[tuple[BudgetAlert, str | None]]:
        out = []
        for status in self._statuses(org, budgets):
            budget = status.budget
            with self.db.transaction() as s:
                done = repo.alerted(s, budget.id, status.month)
            for threshold in crossed(status.spent, budget.terms, done):
                alert = self._record(org, status, threshold, now)
                if alert is not None:
                    out.append((alert, budget.webhook_url))
        return out

    def _record(
        self, org: Organization, st: BudgetStatus, threshold: int, now: datetime
    ) -> BudgetAlert | None:
        scope = f"project {st.project}" if st.project else f"organization {org.name}"
        msg = (
            f"budget of {scope} reached {threshold}% in {st.month}: EUR {st.spent} of EUR {st.budget.amount}"
            + (" (hard stop: new jobs are refused)" if threshold >= 100 and st.budget.hard_stop else "")
        )
        try:
            with self.db.transaction() as s:
                return repo.add_alert(s, st.budget, st.month, threshold, st.spent, now, msg)
        except Duplicate:  # another evaluator recorded it first
            return None

    def _deliver(self, alert: BudgetAlert, url: str) -> None:
        payload = {"type": "budget.threshold", "org_id": alert.org_id, "project_id": alert.project_id,
                   "month": alert.month, "threshold": alert.threshold, "spent": str(alert.spent),
                   "amount": str(alert.amount), "currency": "EUR", "at": alert.at.isoformat(),
                   "message": alert.message}  # fmt: skip
        status = self.notify(url, payload)
        with self.db.transaction() as s:
            repo.set_webhook_status(s, alert.id, status)

    # -- admission ------------------------------------------------------------------------------

    def admission_check(self, s: Session, who: Principal, spec: JobSpec, project_id: str) -> None:
        """Refuse a job of any tier while a hard-stop budget of its org or project is spent, unless
        the org's contract exempts the tier.

        Runs in the submission's transaction; only when a hard-stop budget applies does it price
        the month so far (billing reads usage in its own short read)."""
        if who.org_id is None or not any(p in (None, project_id) for p in repo.hard_stop_scopes(s, who.org_id)):
            return
        rows = [b for b in repo.for_org(s, who.org_id) if b.hard_stop and b.project_id in (None, project_id)]
        if rows and _exempt(s, who.org_id, spec.tier):
            return
        org = tenancy_repo.find_org(s, who.org_id) if rows else None
        if not rows or org is None:
            return
        for st in self._statuses(org, rows):
            if st.exceeded:
                scope = f"project '{st.project}'" if st.project else f"organization '{org.name}'"
                raise BudgetExceeded(
                    f"the {st.month} budget of {scope} is spent (EUR {st.spent} of EUR {st.budget.amount}); "
                    f"new jobs ({spec.tier.value} tier included) are refused until the budget is raised or the month "
                    "ends",
                    field="budget")  # fmt: skip

    # -- helpers --------------------------------------------------------------------------------

    def _statuses(self, org: Organization, rows: list[Budget]) -> list[BudgetStatus]:
        if not rows:
            return []
        now = self.clock.now()
        invoice = self.billing.month_to_date(org, now)
        with self.db.transaction() as s:
            names = {p.id: p.name for p in tenancy_repo.list_projects(s, org.id)}
        out = []
        for r in rows:
            try:  # a bad stored row is logged and skipped, never fails the others
                out.append(_status(r, names.get(r.project_id or ""), invoice))
            except (ValueError, ArithmeticError):
                log.exception("budget %s of org %s cannot be evaluated; skipped", r.id, org.id)
        return out

    @staticmethod
    def _project_id(s: Any, org: Organization, project: str | None) -> str | None:
        if project is None:
            return None
        found = tenancy_repo.find_project(s, org.id, project)
        if found is None:
            raise NotFound(f"project '{project}' not found", field="project")
        return found.id


def _exempt(s: Session, org_id: str, tier: Tier) -> bool:
    """Whether the org's current contract exempts `tier` from budget hard stops."""
    return any(tier.value in c.terms.budget_exempt_tiers for c in contracts_repo.for_org(s, org_id))


def _terms(amount: Decimal, thresholds: Sequence[int], hard_stop: bool) -> BudgetTerms:
    try:
        return BudgetTerms(amount, normalize_thresholds(thresholds), hard_stop)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="amount" if "amount" in str(exc) else "thresholds") from exc


def _status(budget: Budget, project: str | None, invoice: Invoice) -> BudgetStatus:
    spent = invoice.spend(project) if budget.project_id else invoice.spend()
    terms = budget.terms
    return BudgetStatus(
        budget, project, invoice.month, spent, percent_used(spent, terms.amount), exceeded(spent, terms)
    )
