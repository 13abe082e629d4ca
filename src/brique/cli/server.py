"""`brique up`: run the control plane (API server) on this machine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from brique.api.app import create_app
from brique.cli.context import out, user_errors
from brique.config import Settings
from brique.services.runtime import build_runtime


def up(
    host: Annotated[str | None, typer.Option(help="address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="port [default: 8080]")] = None,
    db: Annotated[
        str | None, typer.Option(help="database URL, e.g. postgresql+psycopg://u:p@host/db")
    ] = None,
    fleet: Annotated[Path | None, typer.Option(help="fleet YAML [default: the built-in gb200-eu]")] = None,
    home: Annotated[
        Path | None, typer.Option(help="data dir [default: $BRIQUE_HOME or ~/.local/share/brique]")
    ] = None,
) -> None:
    """Start the control plane: migrate the database, load the fleet, serve the API."""
    overrides = {
        k: v for k, v in dict(host=host, port=port, db_url=db, fleet_file=fleet, home=home).items() if v
    }
    with user_errors():
        settings = Settings(**overrides)
        rt = build_runtime(settings)
    fleet_obj = rt.fleet.fleet
    action = "loaded" if rt.fleet_written else "found"
    out.print(
        f"fleet {fleet_obj.name}: {action} {fleet_obj.gpu_count:,} GPUs in {fleet_obj.rack_count} racks "
        f"over {len(fleet_obj.sites)} sites ({rt.startup_s * 1000:.0f} ms); database {rt.db.engine.dialect.name}"
    )
    token = rt.tenancy.bootstrap(settings.admin_key_file)
    if token:
        out.print("[bold]operator admin created.[/bold] API key (shown once; also saved, mode 0600, to "
                  f"{settings.admin_key_file}):")  # fmt: skip
        out.print(token, highlight=False, soft_wrap=True)
    url = f"http://{settings.host}:{settings.port}"
    out.print(
        f"serving on {url}  (try: BRIQUE_URL={url} BRIQUE_API_KEY=$(cat {settings.admin_key_file}) brique fleet)"
    )
    logging.basicConfig(level=settings.log_level.upper())
    try:
        uvicorn.run(create_app(rt), host=settings.host, port=settings.port, log_level=settings.log_level)
    finally:
        rt.close()
