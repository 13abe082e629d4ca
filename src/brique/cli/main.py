"""The `brique` entry point; `brique.cli.app` holds the commands.

Kept tiny so a command pays only for what it uses (benchmarks/cli_latency.py measures it).
"""

from __future__ import annotations

import os
import sys

from brique import __version__

# Long-running commands, where pydantic plugins (observability) may matter and startup does not.
SERVER_COMMANDS = ("up", "agent")


def main() -> None:
    args = sys.argv[1:]
    if args == ["version"]:
        # Nothing to load, so answer before typer (and the pydantic it parses options with) loads.
        print(__version__)
        return
    if not args or args[0] not in SERVER_COMMANDS:
        # A client command validates its own server's answers: skip pydantic's scan of every
        # installed package's entry points for plugins (20-35 ms here). Set it to "" to keep them.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        # httpcore imports trio when it is installed (selenium brings it), ~250 ms; a client command's
        # HTTP is synchronous and never runs under trio, so make that optional import miss.
        sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
    from brique.cli.app import app  # the command tree; each command loads its own modules when run

    app()
