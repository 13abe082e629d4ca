"""The `brique` command. Every command but `up` talks to the server through the SDK.

Exit codes: 0 ok, 1 user error (one line on stderr), 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brique import __version__
from brique.cli import billing, contracts, fleet, jobs, sovereignty, tenancy, trust
from brique.cli.agent import agent
from brique.cli.context import command, out
from brique.cli.profile import DEFAULT_URL, Profile, save_profile
from brique.cli.server import up
from brique.cli.simulate import simulate
from brique.sdk import Client

app = typer.Typer(
    name="brique",
    help="Brique: control plane for a sovereign AI compute cloud.\n\n"
    "Start a server with `brique up`; point the CLI at it with BRIQUE_URL and BRIQUE_API_KEY "
    "or `brique login`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("up")(up)
app.command("agent")(agent)
app.command("simulate")(simulate)
app.add_typer(fleet.app, name="fleet")
app.add_typer(tenancy.org_app, name="org")
app.add_typer(tenancy.project_app, name="project")
app.add_typer(tenancy.user_app, name="user")
app.add_typer(tenancy.key_app, name="key")
app.add_typer(contracts.contract_app, name="contract")
app.add_typer(sovereignty.policy_app, name="policy")
app.add_typer(sovereignty.access_app, name="access")
app.add_typer(sovereignty.secret_app, name="secret")
app.add_typer(sovereignty.audit_app, name="audit")
app.add_typer(sovereignty.sov_app, name="sovereignty")
app.add_typer(trust.trust_app, name="trust")
app.add_typer(trust.platform_app, name="platform")
app.command("submit")(jobs.submit)
app.command("jobs")(jobs.jobs)
app.add_typer(jobs.job_app, name="job")
app.command("cancel")(jobs.cancel)
app.command("logs")(jobs.logs)
app.command("events")(jobs.events)
app.command("usage")(billing.usage)
app.command("invoice")(billing.invoice)
app.add_typer(billing.budget_app, name="budget")


@app.command()
@command
def login(
    url: Annotated[str, typer.Option(help="server URL")] = DEFAULT_URL,
    key: Annotated[str | None, typer.Option(help="API key; or a file with --key-file")] = None,
    key_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="file holding the key")
    ] = None,
) -> None:
    """Check a server URL and API key, then save them as your profile (mode 0600)."""
    token = key or (key_file.read_text().strip() if key_file else None)
    if not token:
        raise typer.BadParameter("give --key or --key-file", param_hint="--key")
    with Client(url, token) as c:
        me = c.whoami()
    path = save_profile(Profile(url=url, api_key=token))
    out.print(f"logged in to {url} as {me.user_id} ({me.role.value}); profile saved to {path}")


@app.command()
@command
def whoami() -> None:
    """Show who the current API key belongs to."""
    with tenancy.client() as c:
        me = c.whoami()
    org = f" in {me.org_name} ({me.org_id})" if me.org_id else " (operator)"
    out.print(f"{me.user_id} role={me.role.value}{org} key={me.key_id}")


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


def main() -> None:
    app()
