"""`brique usage`, `brique invoice`, `brique budget`: GPU time, money, energy and carbon."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from brique.cli.context import client, command, out, print_json

budget_app = typer.Typer(help="Monthly budgets per org or project: alerts, webhook, hard stop.", no_args_is_help=True)
OrgOpt = Annotated[str | None, typer.Option("--org", help="org name or id (operators; tenants: their own)")]


@command
def usage(
    start: Annotated[str, typer.Option("--from", help="start, ISO 8601 UTC (e.g. 2026-11-01)")],
    end: Annotated[str, typer.Option("--to", help="end, exclusive (e.g. 2026-12-01)")],
    org: OrgOpt = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="a FinOps FOCUS CSV on stdout")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """GPU time, cost, energy and carbon per job attempt."""
    with client() as c:
        if as_csv:
            sys.stdout.write(c.usage_csv(start, end, org))
            return
        report = c.usage(start, end, org)
    if as_json:
        print_json(report)
        return
    table = Table("job", "attempt", "project", "tier", "site", "GPUs", "start", "GPU-h", "EUR", "kWh", "kgCO2e")
    for r in report.records:
        table.add_row(r.job_id, str(r.attempt), r.project, r.tier, r.site, str(r.gpus),
                      r.start.strftime("%Y-%m-%d %H:%M:%S") + (" (running)" if r.running else ""),
                      f"{r.gpu_seconds / 3600:,.2f}", f"{r.billed_cost:,.2f}", f"{r.energy_kwh:,.1f}",
                      f"{r.co2e_kg:,.1f}")  # fmt: skip
    out.print(table)
    t = report.total
    out.print(f"total: {t.gpu_seconds / 3600:,.2f} GPU-h, EUR {report.billed_cost:,.2f} billed (before VAT), "
              f"{t.energy_kwh:,.1f} kWh, {t.co2e_kg:,.1f} kgCO2e", highlight=False)  # fmt: skip
    if report.tokens:
        tokens = Table("deployment", "key", "requests", "prompt tokens", "completion tokens")
        for k in report.tokens:
            tokens.add_row(k.deployment, k.key_id, str(k.requests), f"{k.prompt_tokens:,}", f"{k.completion_tokens:,}")
        out.print(tokens)
        out.print(f"inference tokens: EUR {report.token_cost:,.2f} (before VAT)", highlight=False)


@command
def invoice(
    org: Annotated[str, typer.Option("--org", help="org name or id")],
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (UTC)")],
    html: Annotated[Path | None, typer.Option("--html", help="write a readable HTML invoice here")] = None,
    facturx: Annotated[Path | None, typer.Option("--facturx", help="write the issued Factur-X PDF here")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An org's invoice for a month: lines per project and tier, commitment, overage, VAT.

    With --facturx: the numbered invoice as a Factur-X PDF (operators issue it if it is not yet;
    tenants get the one issued to them)."""
    if facturx is not None:
        _facturx(org, month, facturx)
        return
    with client() as c:
        if html is not None:
            html.write_text(c.invoice_html(org, month), encoding="utf-8")
            out.print(f"wrote {html}")
            return
        inv = c.invoice(org, month)
    if as_json:
        print_json(inv)
        return
    out.print(f"[bold]Invoice {inv.org} {inv.month}[/bold] ({inv.country}, {inv.currency})")
    table = Table("description", "GPU-h", "unit EUR", "kWh", "kgCO2e", "amount EUR")
    for x in inv.lines:
        qty = "" if x.kind == "commitment" else f"{x.gpu_hours:,.4f}"
        table.add_row(x.description, qty, f"{x.unit_price:,.4f}", f"{x.energy_kwh:,.1f}", f"{x.co2e_kg:,.1f}",
                      f"{x.amount:,.2f}")  # fmt: skip
    out.print(table)
    out.print(f"subtotal EUR {inv.subtotal:,.2f}; VAT {inv.vat_country} {inv.vat_percent}% EUR {inv.vat_amount:,.2f}; "
              f"[bold]total EUR {inv.total:,.2f}[/bold]")  # fmt: skip


def _facturx(org: str, month: str, path: Path) -> None:
    from brique.sdk.errors import ApiError

    with client() as c:
        try:
            number = c.issue_invoice(org, month).number
        except ApiError as exc:
            if exc.status != 403:
                raise
            live = _issued_for(c.issued_invoices(org), month)
            if live is None:
                raise ApiError(404, "not_found", f"no invoice of {org} for {month} has been issued yet",
                               "month") from exc  # fmt: skip
            number = live
        path.write_bytes(c.invoice_facturx(number))
    out.print(f"wrote {path} (invoice {number}, Factur-X EN 16931)", highlight=False)


def _issued_for(docs: list, month: str) -> str | None:  # type: ignore[type-arg]
    credited = {d.corrects for d in docs if d.kind == "credit_note"}
    live = [d.number for d in docs if d.kind == "invoice" and d.month == month and d.number not in credited]
    return live[-1] if live else None


@budget_app.command("set")
@command
def set_budget(
    amount: Annotated[str, typer.Argument(help="EUR per month, e.g. 25000")],
    org: OrgOpt = None,
    project: Annotated[str | None, typer.Option(help="a project (default: the whole org)")] = None,
    threshold: Annotated[list[int] | None, typer.Option("--threshold", help="alert at this %; repeat")] = None,
    hard_stop: Annotated[bool, typer.Option("--hard-stop", help="refuse new standard jobs once spent")] = False,
    webhook: Annotated[str | None, typer.Option(help="POST alerts as JSON to this URL")] = None,
) -> None:
    """Set (or replace) the monthly budget of an org or one of its projects."""
    with client() as c:
        org_ref = org or c.whoami().org_id or ""
        b = c.set_budget(org_ref, {"project": project, "amount": Decimal(amount), "thresholds": threshold or [50, 80, 100],
                                   "hard_stop": hard_stop, "webhook_url": webhook})  # fmt: skip
    out.print(f"budget set: EUR {b.amount} per month for {project or 'the organization'}; spent EUR {b.spent} ({b.percent}%)")


@budget_app.command("list")
@command
def list_budgets(org: OrgOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Budgets, with this month's spend."""
    with client() as c:
        found = c.list_budgets(org or c.whoami().org_id or "")
    if as_json:
        print_json(found)
        return
    table = Table("scope", "EUR / month", "spent", "%", "thresholds", "hard stop", "webhook")
    for b in found:
        table.add_row(b.project or "(organization)", f"{b.amount:,.2f}", f"{b.spent:,.2f}", str(b.percent),
                      ",".join(map(str, b.thresholds)), "yes" if b.hard_stop else "no", b.webhook_url or "")  # fmt: skip
    out.print(table)


@budget_app.command("alerts")
@command
def alerts(org: OrgOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Thresholds reached, newest first."""
    with client() as c:
        found = c.budget_alerts(org or c.whoami().org_id or "")
    if as_json:
        print_json(found)
        return
    table = Table("at", "month", "threshold", "spent", "budget", "webhook", "message")
    for a in found:
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M"), a.month, f"{a.threshold}%", f"{a.spent:,.2f}",
                      f"{a.amount:,.2f}", a.webhook_status or "", a.message)  # fmt: skip
    out.print(table)
