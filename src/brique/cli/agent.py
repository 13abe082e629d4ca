"""`brique agent`: run the node agent of a `local`-executor site on this machine."""

from __future__ import annotations

import logging
import os
import signal
import ssl
import threading
from pathlib import Path
from typing import Annotated

import typer

from brique.agent.engines import Podman, probe_bwrap
from brique.agent.gpus import discover_gpus
from brique.agent.node import NodeAgent
from brique.agent.runner import Isolation, ProcessRunner
from brique.agent.sandbox import ContainerRuntime, Network, Sandbox, node_share, parse_size, unreachable
from brique.agent.tls import InsecureServer, check_url, client_context
from brique.cli.context import command, fail
from brique.sdk import Client

Opt = typer.Option
DEFAULT_SANDBOX_ROOT = Path("/var/lib/brique/sandbox")


@command
def agent(
    node: Annotated[str, Opt(help="fleet node id this machine is, e.g. lab-1/r001/n01")],
    server: Annotated[str, Opt(envvar="BRIQUE_URL", help="control plane URL")] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, Opt(envvar="BRIQUE_API_KEY", help="API key of a node-agent identity")
    ] = None,
    token_file: Annotated[
        Path | None, Opt(help="read the API key from this file (not visible in ps)")
    ] = None,
    gpus: Annotated[int | None, Opt(min=0, help="virtual GPU count where NVML finds none")] = None,
    workdir: Annotated[Path, Opt(help="where attempts run and keep their logs")] = Path(
        "~/.local/share/brique/agent"
    ),
    ca_file: Annotated[Path | None, Opt(help="CA (PEM) the server's certificate must chain to")] = None,
    cert: Annotated[Path | None, Opt(help="this node's client certificate (PEM) for mutual TLS")] = None,
    key: Annotated[Path | None, Opt(help="the client certificate's private key (PEM)")] = None,
    insecure_http: Annotated[
        bool, Opt("--insecure-http", help="allow plain http to a non-loopback server")
    ] = False,
    sandbox: Annotated[
        Sandbox, Opt(help="jobs without an image: bwrap, or none (development only)")
    ] = Sandbox.BWRAP,
    container_runtime: Annotated[ContainerRuntime, Opt(help="jobs with an image")] = ContainerRuntime.PODMAN,
    job_network: Annotated[Network, Opt(help="auto: host network for multi-node jobs only")] = Network.AUTO,
    memory: Annotated[str | None, Opt(help="memory offered to jobs, e.g. 900G [default: all]")] = None,
    cpus: Annotated[float | None, Opt(min=0.1, help="CPUs offered to jobs [default: all]")] = None,
    sandbox_root: Annotated[
        Path | None,
        Opt(help="job scratch dirs and unpacked images [default: /var/lib/brique/sandbox as root]"),
    ] = None,
    expose: Annotated[
        list[Path] | None, Opt(help="host dir shared read-only with jobs without an image (repeat)")
    ] = None,
    podman_root: Annotated[str | None, Opt(help="podman image store (--root)")] = None,
    podman_runroot: Annotated[str | None, Opt(help="podman state dir (--runroot)")] = None,
    podman_storage_driver: Annotated[
        str | None, Opt(help="podman storage driver, e.g. overlay or vfs")
    ] = None,
) -> None:
    """Serve one node: run the jobs placed on it in sandboxes or containers (SIGTERM, then SIGKILL after grace)."""
    secret = token_file.read_text().strip() if token_file else token
    if not secret:
        raise fail("give --token-file (or BRIQUE_API_KEY): a key of a user with role node-agent")
    try:
        check_url(server, insecure_http)
        verify = client_context(ca_file, cert, key) if server.startswith("https://") else True
        count = discover_gpus(gpus)
        share = node_share(count, parse_size(memory) if memory else None, cpus)
    except (InsecureServer, ValueError, OSError, ssl.SSLError) as exc:
        raise fail(str(exc)) from None
    if sandbox is Sandbox.BWRAP and (problem := probe_bwrap()):
        raise fail(f"{problem}. Jobs never run unsandboxed unless you pass --sandbox none "
                   "(development only: jobs then run as this user)")  # fmt: skip
    podman = Podman(podman_root, podman_runroot, podman_storage_driver)
    state = workdir.expanduser() / node.replace("/", "_")
    root = sandbox_root or (DEFAULT_SANDBOX_ROOT if os.geteuid() == 0 else state / "sandbox")
    if problem := unreachable(root):
        raise fail(f"--sandbox-root {root}: {problem}")
    shared = tuple(str(p.resolve()) for p in expose or ())
    for p in shared:
        if problem := "no such directory" if not Path(p).is_dir() else unreachable(Path(p) / "x"):
            raise fail(f"--expose {p}: {problem}")
    iso = Isolation(share, root, sandbox, container_runtime, job_network, podman, shared)
    _serve(
        node,
        server,
        secret,
        verify,
        count,
        ProcessRunner(state, node, iso),
    )


def _serve(
    node: str, server: str, token: str, verify: ssl.SSLContext | bool, gpus: int, runner: ProcessRunner
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per heartbeat
    if runner.isolation.sandbox is Sandbox.NONE:
        logging.getLogger("brique.agent").warning("--sandbox none: jobs run as this agent's user, unisolated")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with Client(server, token, verify=verify) as client:
        NodeAgent(client, runner, node, gpus).run(stop)
