"""The `brique` entry point; `brique.cli.app` holds the commands.

Kept tiny so a command pays only for what it uses (benchmarks/cli_latency.py measures it).
"""

from __future__ import annotations

import os
import sys

from brique import __version__

# Long-running commands, where pydantic plugins (observability) may matter and startup does not.
SERVER_COMMANDS = ("up", "agent")
# Commands that end through the interpreter's full teardown (servers, the simulator's files).
FULL_EXIT = (*SERVER_COMMANDS, "serve", "simulate")


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
        # httpx imports its own command line (click, pygments, rich.progress: ~19 ms) when it can;
        # it falls back to a stub when that import fails, and nothing here runs `httpx` the command.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from brique.cli.app import app  # the command tree; each command loads its own modules when run

    if args and args[0] in FULL_EXIT:
        app()
        return
    try:
        app()
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _exit_now(code: object) -> None:
    """End a client command without the interpreter's teardown of ~600 modules (~40 ms, a sixth of
    `brique jobs`). A client command holds nothing that needs it: its HTTP client is closed in a
    `with`, its files are closed, it starts no threads; only the standard streams need a flush."""
    import contextlib  # here, not at the top: `brique version` answers before needing it

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`brique jobs | head`) has nothing left to say.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
