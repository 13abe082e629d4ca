"""The `brique` command tree. Every command but `up` talks to the server through the SDK.

Exit codes: 0 ok, 1 user error (one line on stderr), 2 usage error.

Commands load lazily (`LazyGroup`): `brique jobs` imports the jobs module and the SDK, never the
server, the simulator or the other commands; `brique version` imports typer and nothing else;
`brique --help` loads every command to show its help. Measured by benchmarks/cli_latency.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from brique import __version__
from brique.cli.errors import command
from brique.cli.profile import DEFAULT_URL, Profile, save_profile

# Every command, in `brique --help` order: "module:attribute" of a command function or a sub-Typer.
# None: defined in this module (light enough to load every time).
COMMANDS: dict[str, str | None] = {
    "up": "brique.cli.server:up",
    "agent": "brique.cli.agent:agent",
    "simulate": "brique.cli.simulate:simulate",
    "submit": "brique.cli.jobs:submit",
    "jobs": "brique.cli.jobs:jobs",
    "cancel": "brique.cli.jobs:cancel",
    "logs": "brique.cli.jobs:logs",
    "events": "brique.cli.jobs:events",
    "usage": "brique.cli.billing:usage",
    "invoice": "brique.cli.billing:invoice",
    "login": None,
    "whoami": None,
    "version": None,
    "fleet": "brique.cli.fleet:app",
    "org": "brique.cli.tenancy:org_app",
    "project": "brique.cli.tenancy:project_app",
    "user": "brique.cli.tenancy:user_app",
    "key": "brique.cli.tenancy:key_app",
    "contract": "brique.cli.contracts:contract_app",
    "policy": "brique.cli.sovereignty:policy_app",
    "access": "brique.cli.sovereignty:access_app",
    "secret": "brique.cli.sovereignty:secret_app",
    "audit": "brique.cli.sovereignty:audit_app",
    "sovereignty": "brique.cli.sovereignty:sov_app",
    "trust": "brique.cli.trust:trust_app",
    "platform": "brique.cli.trust:platform_app",
    "job": "brique.cli.jobs:job_app",
    "budget": "brique.cli.billing:budget_app",
    "deploy": "brique.cli.inference:deploy",
    "deployment": "brique.cli.inference:deployment_app",
    "serve": "brique.cli.inference:serve",
    "reservation": "brique.cli.reservations:reservation_app",
}
PRETTY_EXCEPTIONS_SHORT = True


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, each imported and built into a click command on first use."""

    def __init__(self, targets: Mapping[str, str | None], built: dict[str, Any], group: TyperGroup) -> None:
        self._targets = dict(targets)
        self._built = built
        self._group = group

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            target = self._targets.get(name)
            if target is None:
                raise KeyError(name)
            self._built[name] = self._build(name, target)
        return self._built[name]

    def _build(self, name: str, target: str) -> Any:
        module, _, attribute = target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        mode = self._group.rich_markup_mode
        if isinstance(found, typer.Typer):
            return get_group_from_info(TyperInfo(found, name=name), pretty_exceptions_short=PRETTY_EXCEPTIONS_SHORT,
                                       rich_markup_mode=mode, suggest_commands=self._group.suggest_commands)  # fmt: skip
        info = CommandInfo(name=name, callback=found)
        return get_command_from_info(
            info, pretty_exceptions_short=PRETTY_EXCEPTIONS_SHORT, rich_markup_mode=mode
        )

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        self._targets.setdefault(name, None)

    def __delitem__(self, name: str) -> None:
        self._targets.pop(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in self._targets if name in self._built or self._targets[name]])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in self._built or bool(self._targets.get(name))  # type: ignore[call-overload]


class LazyGroup(TyperGroup):
    """The root group: commands of this module built by typer as usual, the others from `COMMANDS`."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMANDS, dict(self.commands), self)


app = typer.Typer(
    name="brique",
    cls=LazyGroup,
    help="Brique: control plane for a sovereign AI compute cloud.\n\n"
    "Start a server with `brique up`; point the CLI at it with BRIQUE_URL and BRIQUE_API_KEY "
    "or `brique login`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_short=PRETTY_EXCEPTIONS_SHORT,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    from brique.cli.context import out
    from brique.sdk import Client

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
    from brique.cli.context import client, out

    with client() as c:
        me = c.whoami()
    org = f" in {me.org_name} ({me.org_id})" if me.org_id else " (operator)"
    out.print(f"{me.user_id} role={me.role.value}{org} key={me.key_id}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)
