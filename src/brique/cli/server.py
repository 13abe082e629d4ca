"""`brique up`: run the control plane (API server) on this machine."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from brique.api.app import create_app
from brique.cli.context import fail, out, user_errors
from brique.config import TRACES_DIR, Settings
from brique.services.demo import busy_part, seed_demo
from brique.services.runtime import Runtime, build_runtime
from brique.simulator.traces import load_trace
from brique.workers.demo_feed import DemoFeed


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
    demo: Annotated[
        bool, typer.Option("--demo", help="seed example tenants and replay a trace as live jobs")
    ] = False,
    demo_trace: Annotated[str, typer.Option(help="demo trace: philly or helios")] = "philly",
    demo_load: Annotated[
        float, typer.Option(min=0.01, help="demo load: multiple of the trace's demand")
    ] = 30.0,
    demo_speed: Annotated[float, typer.Option(min=1.0, help="demo time compression of job durations")] = 60.0,
    tls_cert: Annotated[
        Path | None, typer.Option(help="serve HTTPS with this certificate (PEM chain)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="the certificate's private key (PEM)")] = None,
    tls_client_ca: Annotated[
        Path | None, typer.Option(help="mutual TLS: every client must present a certificate from this CA")
    ] = None,
) -> None:
    """Start the control plane: migrate the database, load the fleet, serve the API."""
    tls = _tls_options(tls_cert, tls_key, tls_client_ca)
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
    feed = _start_demo(rt, settings, demo_trace, demo_load, demo_speed) if demo else None
    url = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    out.print(
        f"serving on {url}  (try: BRIQUE_URL={url} BRIQUE_API_KEY=$(cat {settings.admin_key_file}) brique fleet)"
    )
    logging.basicConfig(level=settings.log_level.upper())
    try:
        uvicorn.run(
            create_app(rt), host=settings.host, port=settings.port, log_level=settings.log_level, **tls
        )
    finally:
        if feed is not None:
            feed.stop()
        rt.close()


def _tls_options(cert: Path | None, key: Path | None, client_ca: Path | None) -> dict:
    """uvicorn's TLS arguments; mutual TLS makes a client certificate mandatory for every caller."""
    if cert is None and key is None and client_ca is None:
        return {}
    if cert is None or key is None:
        raise fail("--tls-cert and --tls-key go together")
    for name, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is not None and not path.is_file():
            raise fail(f"{name}: no such file {path}")
    options: dict = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if client_ca is not None:
        options |= {"ssl_ca_certs": str(client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


DEMO_TRACES = {
    "philly": ("philly-pollux/philly.csv", "philly"),
    "helios": ("helios-last15k/helios_data_training.csv", "helios"),
}


def _start_demo(rt: Runtime, settings: Settings, trace: str, load: float, speed: float) -> DemoFeed:
    if trace not in DEMO_TRACES:
        raise fail(f"--demo-trace must be one of: {', '.join(DEMO_TRACES)}")
    path, fmt = DEMO_TRACES[trace]
    with user_errors():
        admin = rt.tenancy.authenticate(settings.admin_key_file.read_text().strip())
        keys_file = settings.home / "demo-keys.json"
        keys = seed_demo(rt.tenancy, rt.contracts, admin, keys_file)
        tenants = {org: rt.tenancy.authenticate(key) for org, key in keys.items()}
        loaded = busy_part(load_trace(TRACES_DIR / path, fmt))
    feed = DemoFeed(rt.jobs, tenants, loaded, speed, load)
    feed.start()
    out.print(f"demo: {len(tenants)} tenants with contracts; replaying {len(loaded.jobs):,} jobs from {trace} "
              f"at {load:g}x its load, durations / {speed:g}. Tenant keys: {keys_file}")  # fmt: skip
    return feed
