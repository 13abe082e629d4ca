"""`brique agent`: run the node agent of a `local`-executor site on this machine."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from brique.agent.gpus import discover_gpus
from brique.agent.node import NodeAgent
from brique.agent.runner import ProcessRunner
from brique.cli.context import command, fail
from brique.sdk import Client


@command
def agent(
    node: Annotated[str, typer.Option(help="fleet node id this machine is, e.g. lab-1/r001/n01")],
    server: Annotated[
        str, typer.Option(envvar="BRIQUE_URL", help="control plane URL")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(envvar="BRIQUE_API_KEY", help="API key of a node-agent identity")
    ] = None,
    gpus: Annotated[int | None, typer.Option(min=0, help="virtual GPU count where NVML finds none")] = None,
    workdir: Annotated[Path, typer.Option(help="where attempts run and keep their logs")] = Path(
        "~/.local/share/brique/agent"
    ),
) -> None:
    """Serve one node: run the jobs placed on it as real processes (SIGTERM, then SIGKILL after grace)."""
    if not token:
        raise fail("give --token (or BRIQUE_API_KEY): a key of a user with role node-agent")
    try:
        count = discover_gpus(gpus)
    except ValueError as exc:
        raise fail(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per heartbeat
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner = ProcessRunner(workdir.expanduser() / node.replace("/", "_"), node)
    with Client(server, token) as client:
        NodeAgent(client, runner, node, count).run(stop)
