"""`brique contract`: tenants' capacity contracts (operators set them; tenants read theirs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.errors import InvalidInput
from brique.simulator.contracts_file import ContractsInvalid, parse_contracts

contract_app = typer.Typer(help="Capacity contracts: guaranteed priority GPUs, fair-share weight, borrowing.",
                           no_args_is_help=True)  # fmt: skip
CONTRACT_FIELDS = ("guaranteed_gpus", "weight", "may_borrow", "borrow_cap", "site", "monthly_commitment", "rates",
                   "overage_rate", "currency", "starts_on", "ends_on", "budget_exempt_tiers",
                   "inference_requests_per_min", "inference_tokens_per_min")  # fmt: skip


@contract_app.command("set")
@command
def set_contract(
    org: Annotated[str, typer.Argument(help="org name or id")],
    guaranteed: Annotated[int, typer.Option("--guaranteed", min=0, help="guaranteed priority GPUs")] = 0,
    weight: Annotated[float, typer.Option(min=0.001, help="fair-share weight")] = 1.0,
    borrow: Annotated[bool, typer.Option("--borrow/--no-borrow", help="may use idle capacity")] = True,
    borrow_cap: Annotated[int | None, typer.Option(min=0, help="most GPUs borrowed at once")] = None,
    site: Annotated[str | None, typer.Option(help="only in this site (default: fleet-wide)")] = None,
    commitment: Annotated[str, typer.Option("--commitment", help="EUR per month, billed used or not")] = "0",
    rate: Annotated[list[str] | None, typer.Option("--rate", help="agreed TIER=EUR per GPU-hour (repeat)")] = None,
    overage_rate: Annotated[str | None, typer.Option(help="EUR per priority GPU-hour beyond the commitment")] = None,
    starts_on: Annotated[str | None, typer.Option("--from", help="first day of the term (YYYY-MM-DD)")] = None,
    ends_on: Annotated[str | None, typer.Option("--to", help="last day of the term (YYYY-MM-DD)")] = None,
    exempt: Annotated[list[str] | None, typer.Option("--budget-exempt", help="tier a budget hard stop spares")] = None,
    inference_rpm: Annotated[int | None, typer.Option("--inference-rpm", min=1,
                             help="the org's inference gateway requests per minute (default: the operator's)")] = None,
    inference_tpm: Annotated[int | None, typer.Option("--inference-tpm", min=1,
                             help="the org's inference gateway tokens per minute (default: the operator's)")] = None,
) -> None:
    """Set the org's contract for one site (or fleet-wide), keeping its others (a new version)."""
    with client() as c:
        others = [_terms(x.model_dump(mode="json")) for x in c.list_contracts(org) if x.site != site]
        new = {"guaranteed_gpus": guaranteed, "weight": weight, "may_borrow": borrow, "borrow_cap": borrow_cap,
               "site": site, "monthly_commitment": commitment, "rates": _rates(rate or []),
               "overage_rate": overage_rate, "starts_on": starts_on, "ends_on": ends_on,
               "budget_exempt_tiers": exempt or [], "inference_requests_per_min": inference_rpm,
               "inference_tokens_per_min": inference_tpm}  # fmt: skip
        c.set_contracts(org, [*others, new])
    out.print(f"contract set for {org}" + (f" in {site}" if site else " (fleet-wide)"))


@contract_app.command("list")
@command
def list_contracts(org: Annotated[str, typer.Argument(help="org name or id")], as_json: bool = False) -> None:
    """An org's contracts."""
    with client() as c:
        found = c.list_contracts(org)
    if as_json:
        print_json(found)
        return
    table = Table("site", "guaranteed GPUs", "weight", "may borrow", "borrow cap", "commitment EUR/month", "rates",
                  "term", "gateway req/tokens per min", "version")  # fmt: skip
    for x in found:
        rates = ", ".join(f"{t}={p}" for t, p in sorted(x.rates.items()))
        term = f"{x.starts_on or '…'} to {x.ends_on or '…'}" if x.starts_on or x.ends_on else ""
        gateway = " / ".join("default" if v is None else str(v)
                             for v in (x.inference_requests_per_min, x.inference_tokens_per_min))  # fmt: skip
        table.add_row(x.site or "(fleet-wide)", str(x.guaranteed_gpus), f"{x.weight:g}", str(x.may_borrow),
                      "" if x.borrow_cap is None else str(x.borrow_cap), str(x.monthly_commitment), rates, term,
                      gateway, str(x.version))  # fmt: skip
    out.print(table)


@contract_app.command("import")
@command
def import_contracts(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="contracts YAML")],
) -> None:
    """Import a contracts file (the simulator's `--contracts` format); `name` is the org name."""
    import yaml  # ~10 ms that only this command needs

    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    try:
        parse_contracts(doc)  # the simulator's rules, unknown fields included
    except ContractsInvalid as exc:
        raise InvalidInput(f"{file}: {exc}") from exc
    tenants = doc.get("tenants") if isinstance(doc, dict) else None
    if not isinstance(tenants, list):
        raise InvalidInput(f"{file}: must have a 'tenants' list")
    by_org: dict[str, list[dict[str, Any]]] = {}
    for i, t in enumerate(tenants):
        if not isinstance(t, dict) or not t.get("name"):
            raise InvalidInput(f"{file}: tenants[{i}].name: is required")
        by_org.setdefault(str(t["name"]), []).append(_terms(t))
    with client() as c:
        for org, terms in by_org.items():
            c.set_contracts(org, terms)
    out.print(f"imported contracts for {len(by_org)} organizations")


def _rates(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        tier, sep, price = item.partition("=")
        if not sep:
            raise InvalidInput(f"--rate '{item}': write TIER=EUR, e.g. priority=3.00", field="rate")
        out[tier.strip()] = price.strip()
    return out


def _terms(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in CONTRACT_FIELDS if k in doc}
