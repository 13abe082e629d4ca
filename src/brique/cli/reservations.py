"""`brique reservation`: book capacity windows (operators create and approve, tenant admins request)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.errors import InvalidInput

reservation_app = typer.Typer(help="Capacity reservations: N GPUs or N racks of a site or country for a window.",
                              no_args_is_help=True)  # fmt: skip


def _when(value: str, flag: str) -> str:
    """ISO 8601; a date or a time without offset is UTC."""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{flag} '{value}': not an ISO 8601 date or time (e.g. 2026-12-01)", field=flag) from exc
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


@reservation_app.command("create")
@command
def create(
    org: Annotated[str, typer.Option("--org", help="org name or id")],
    start: Annotated[str, typer.Option("--from", help="window start, ISO 8601 (UTC if no offset)")],
    end: Annotated[str, typer.Option("--to", help="window end, exclusive")],
    gpus: Annotated[int, typer.Option("--gpus", min=0, help="GPUs to hold (or --racks)")] = 0,
    racks: Annotated[int, typer.Option("--racks", min=0, help="whole racks to hold (or --gpus)")] = 0,
    site: Annotated[str | None, typer.Option("--site", help="a site id (or --country)")] = None,
    country: Annotated[str | None, typer.Option("--country", help="any site in this country (or --site)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Book a window (operators: approved at once; tenant admins: a request an operator approves)."""
    body = {"org": org, "gpus": gpus, "racks": racks, "site": site, "country": country,
            "from": _when(start, "--from"), "to": _when(end, "--to")}  # fmt: skip
    with client() as c:
        r = c.create_reservation(body)
    if as_json:
        print_json(r)
        return
    held = f"{r.gpus} GPUs" if r.gpus else f"racks {', '.join(r.racks)}"
    out.print(f"reservation {r.id} ({r.state}): {held} in {r.site}, {r.starts_at:%Y-%m-%d %H:%M} to "
              f"{r.ends_at:%Y-%m-%d %H:%M} UTC", highlight=False)  # fmt: skip


@reservation_app.command("list")
@command
def list_reservations(
    org: Annotated[str | None, typer.Option("--org", help="org name or id (operators: default all)")] = None,
    include_cancelled: Annotated[bool, typer.Option("--all", help="include cancelled ones")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reservations, soonest first."""
    with client() as c:
        found = c.list_reservations(org, include_cancelled)
    if as_json:
        print_json(found)
        return
    table = Table("id", "org", "site", "GPUs", "racks", "from (UTC)", "to (UTC)", "state")
    for r in found:
        table.add_row(r.id, r.org_id, r.site, str(r.gpus or ""), ", ".join(r.racks),
                      f"{r.starts_at:%Y-%m-%d %H:%M}", f"{r.ends_at:%Y-%m-%d %H:%M}", r.state)  # fmt: skip
    out.print(table)


@reservation_app.command("cancel")
@command
def cancel(reservation_id: Annotated[str, typer.Argument(metavar="ID", help="reservation id (rsv_…)")]) -> None:
    """Cancel a reservation (its capacity is released at the next scheduling cycle)."""
    with client() as c:
        r = c.cancel_reservation(reservation_id)
    out.print(f"reservation {r.id} cancelled", highlight=False)


@reservation_app.command("approve")
@command
def approve(reservation_id: Annotated[str, typer.Argument(metavar="ID", help="reservation id (rsv_…)")]) -> None:
    """Approve a tenant's request (operators); refused with the reason if it no longer fits."""
    with client() as c:
        r = c.approve_reservation(reservation_id)
    out.print(f"reservation {r.id} approved", highlight=False)
