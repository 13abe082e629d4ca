"""`brique up`: run the control plane (API server) on this machine."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brique.cli.context import fail, out, user_errors

if TYPE_CHECKING:
    from brique.api.server import ServerTls
    from brique.config import Settings
    from brique.server.runtime import Runtime
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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="processes serving this port, as replicas of one database: one "
            "schedules, all serve the API (needs a database file or PostgreSQL) [default: 1]",
        ),
    ] = 1,
) -> None:
    """Start the control plane: migrate the database, load the fleet, serve the API."""
    # The server's modules load here, not at import: `brique --help` and client commands skip them.
    from brique.api.app import create_app
    from brique.api.server import serve
    from brique.config import Settings
    from brique.server import workers as pool
    from brique.server.runtime import build_runtime

    index = pool.worker_index()
    if index:
        pool.die_with_parent()
    tls = _server_tls(tls_cert, tls_key, tls_client_ca)
    overrides = {
        k: v for k, v in dict(host=host, port=port, db_url=db, fleet_file=fleet, home=home).items() if v
    }
    with user_errors():
        settings = Settings(**overrides)
        if workers > 1 and not pool.shares_database(settings.database_url):
            raise fail(
                "--workers: more than 1 needs a database file or PostgreSQL (not an in-memory database)"
            )
        private_files(settings.home)
        rt = build_runtime(settings)
    sock = None
    if workers > 1 or index:
        try:
            sock = pool.listening_socket(settings.host, settings.port)
        except OSError as exc:
            rt.close()
            raise fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    if index:  # a worker started by the first one: it only serves
        try:
            serve(create_app(rt), settings, tls, sock)
        finally:
            rt.close()
        return
    fleet_obj = rt.services.fleet.fleet
    action = "loaded" if rt.fleet_written else "found"
    out.print(
        f"fleet {fleet_obj.name}: {action} {fleet_obj.gpu_count:,} GPUs in {fleet_obj.rack_count} racks "
        f"over {len(fleet_obj.sites)} sites ({rt.startup_s * 1000:.0f} ms); database {rt.db.engine.dialect.name}"
    )
    token = rt.services.tenancy.bootstrap(settings.admin_key_file)
    if token:
        out.print("[bold]operator admin created.[/bold] API key (shown once; also saved, mode 0600, to "
                  f"{settings.admin_key_file}):")  # fmt: skip
        out.print(token, highlight=False, soft_wrap=True)
    feed = _start_demo(rt, settings, demo_trace, demo_load, demo_speed) if demo else None
    url = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    on = f"{url} with {workers} workers" if workers > 1 else url
    out.print(
        f"serving on {on}  (try: BRIQUE_URL={url} BRIQUE_API_KEY=$(cat {settings.admin_key_file}) brique fleet)"
    )
    logging.basicConfig(level=settings.log_level.upper())
    others = None
    if workers > 1:
        args = _worker_args(settings, db, fleet, home, tls_cert, tls_key, tls_client_ca)
        others = pool.WorkerPool(workers, args, settings.replica_id)
        others.start()
    try:
        serve(create_app(rt), settings, tls, sock)
    finally:
        if others is not None:
            others.stop()
        if feed is not None:
            feed.stop()
        rt.close()


def _worker_args(
    settings: Settings, db: str | None, fleet: Path | None, home: Path | None, *tls: Path | None
) -> list[str]:
    """The options every other worker is started with: this one's address and data, no demo."""
    args = ["--host", settings.host, "--port", str(settings.port)]
    for name, value in (("--db", db), ("--fleet", fleet), ("--home", home), ("--tls-cert", tls[0]),
                        ("--tls-key", tls[1]), ("--tls-client-ca", tls[2])):  # fmt: skip
        if value is not None:
            args += [name, str(value)]
    return args


def private_files(home: Path) -> None:
    """Whatever the caller's umask, everything this process writes (database, keys, logs,
    exports) is created 0600 and directories 0700; the data dir itself is made private."""
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)


def _server_tls(cert: Path | None, key: Path | None, client_ca: Path | None) -> ServerTls | None:
    """The TLS files, checked before anything starts: a key that does not match its certificate,
    or a client CA that is not PEM, is one clear line here rather than a traceback from uvicorn."""
    from brique.api.server import ServerTls

    if cert is None and key is None and client_ca is None:
        return None
    if cert is None or key is None:
        raise fail("--tls-cert and --tls-key go together")
    for name, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is not None and not path.is_file():
            raise fail(f"{name}: no such file {path}")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise fail(
            f"--tls-cert/--tls-key: cannot load the certificate and its key ({exc.reason or exc})"
        ) from None
    if client_ca is not None:
        try:
            ctx.load_verify_locations(str(client_ca))
        except ssl.SSLError as exc:
            raise fail(f"--tls-client-ca: not a PEM CA certificate ({exc.reason or exc})") from None
    return ServerTls(cert, key, client_ca)


DEMO_TRACES = {
    "philly": ("philly-pollux/philly.csv", "philly"),
    "helios": ("helios-last15k/helios_data_training.csv", "helios"),
}


def _start_demo(rt: Runtime, settings: Settings, trace: str, load: float, speed: float) -> DemoFeed:
    from brique.config import TRACES_DIR
    from brique.services.demo import busy_part, seed_demo
    from brique.simulator.traces import load_trace
    from brique.workers.demo_feed import DemoFeed

    if trace not in DEMO_TRACES:
        raise fail(f"--demo-trace must be one of: {', '.join(DEMO_TRACES)}")
    path, fmt = DEMO_TRACES[trace]
    with user_errors():
        admin = rt.services.tenancy.authenticate(settings.admin_key_file.read_text().strip())
        keys_file = settings.home / "demo-keys.json"
        keys = seed_demo(rt.services.tenancy, rt.services.contracts, admin, keys_file)
        tenants = {org: rt.services.tenancy.authenticate(key) for org, key in keys.items()}
        loaded = busy_part(load_trace(TRACES_DIR / path, fmt))
    feed = DemoFeed(rt.services.jobs, tenants, loaded, speed, load)
    feed.start()
    out.print(f"demo: {len(tenants)} tenants with contracts; replaying {len(loaded.jobs):,} jobs from {trace} "
              f"at {load:g}x its load, durations / {speed:g}. Tenant keys: {keys_file}")  # fmt: skip
    return feed
