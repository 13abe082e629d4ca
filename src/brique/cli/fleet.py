"""`brique fleet`: capacity per site, racks, nodes, node health."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.domain.fleet import HealthState

app = typer.Typer(help="Fleet: sites, racks (NVLink domains), nodes (trays) and GPUs.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
@command
def capacity(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Capacity per site: racks, nodes and GPUs by health state."""
    if ctx.invoked_subcommand is not None:
        return
    with client() as c:
        cap = c.fleet_capacity()
        sites = {s.id: s for s in c.sites()}
    if as_json:
        doc = cap.model_dump(mode="json")
        for entry in doc["sites"]:
            site = sites[entry["site"]]
            entry.update(
                operator=site.operator.model_dump(), certifications=site.certifications, pue=site.pue
            )
        print_json(doc)
        return
    table = Table(title=f"fleet {cap.fleet}: {cap.total_gpus:,} GPUs in {cap.total_racks} racks")
    table.add_column("site")
    table.add_column("country")
    for col in ("racks", "nodes up", "GPUs up", "allocated", "reserved", "draining", "down"):
        table.add_column(col, justify="right")
    for s in cap.sites:
        table.add_row(s.site, s.country, str(s.racks), f"{s.nodes.up:,}", f"{s.gpus.up:,}", f"{s.gpus_allocated:,}",
                      f"{s.gpus_reserved:,}", f"{s.gpus.draining:,}", f"{s.gpus.down:,}")  # fmt: skip
    table.add_row("total", "", str(cap.total_racks), "", f"{cap.gpus.up:,}", f"{cap.gpus_allocated:,}",
                  f"{cap.gpus_reserved:,}", f"{cap.gpus.draining:,}", f"{cap.gpus.down:,}", style="bold")  # fmt: skip
    out.print(table)


@app.command("sites")
@command
def sites(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Sites with country, jurisdiction, operator entity, certifications, PUE and grid carbon."""
    with client() as c:
        found = c.sites()
    if as_json:
        print_json(found)
        return
    table = Table("site", "region", "country", "jurisdiction", "operator", "certifications", "PUE", "gCO2e/kWh",
                  "executor", "GPUs")  # fmt: skip
    for s in found:
        table.add_row(s.id, s.region, s.country, s.jurisdiction, f"{s.operator.name} ({s.operator.country})",
                      ",".join(s.certifications), f"{s.pue:.2f}", f"{s.grid_gco2e_per_kwh:g}", s.executor,
                      f"{s.gpus:,}")  # fmt: skip
    out.print(table)


@app.command("nodes")
@command
def nodes(
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
    rack: Annotated[str | None, typer.Option(help="only this rack, e.g. fr-par-1/r001")] = None,
    state: Annotated[HealthState | None, typer.Option(help="only nodes in this state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List nodes (compute trays) and their health."""
    with client() as c:
        found = c.nodes(site=site, rack=rack, state=state.value if state else None, limit=limit)
    if as_json:
        print_json(found)
        return
    table = Table("node", "state", "GPUs", "GPUs not up", "reason")
    for n in found:
        table.add_row(n.id, n.state.value, str(n.gpus), str(n.gpus_not_up), n.state_reason or "")
    out.print(table)


@app.command("set-state")
@command
def set_state(
    node: Annotated[str, typer.Argument(help="node id, e.g. fr-par-1/r001/n03")],
    state: Annotated[HealthState, typer.Argument(help="up, draining or down")],
    reason: Annotated[str | None, typer.Option(help="why (shown to operators)")] = None,
) -> None:
    """Drain, take down or bring up a node (operators only)."""
    with client() as c:
        n = c.set_node_state(node, state.value, reason)
    out.print(f"{n.id}: {n.state.value}")
