"""A command imports only what it uses: never the server's modules (issue 13: a fast CLI).

Not timed (benchmarks/cli_latency.py measures); these pin which modules load, which is what the time follows.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.unit.cli.imports import run_probed, server_side


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connecting is refused


def test_version_loads_no_framework(tmp_path: Path) -> None:
    done, modules = run_probed(tmp_path, "version")
    assert done.returncode == 0 and done.stdout.strip() == "0.1.0", done.stderr
    assert server_side(modules) == []
    assert {"typer", "pydantic", "httpx", "rich", "brique.sdk"}.isdisjoint(modules)


def test_help_lists_every_command_without_loading_the_server(tmp_path: Path) -> None:
    done, modules = run_probed(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for name in ("up", "agent", "simulate", "submit", "jobs", "fleet", "org", "policy", "budget", "version"):
        assert f"│ {name} " in done.stdout, name
    assert server_side(modules) == []


def test_up_help_does_not_load_the_server(tmp_path: Path) -> None:
    done, modules = run_probed(tmp_path, "up", "--help")
    assert done.returncode == 0 and "--demo-trace" in done.stdout, done.stderr
    assert server_side(modules) == []


def test_a_client_command_loads_its_own_module_and_the_sdk_only(tmp_path: Path) -> None:
    env = {"BRIQUE_URL": f"http://127.0.0.1:{_closed_port()}", "BRIQUE_API_KEY": "brq_x"}
    done, modules = run_probed(tmp_path, "jobs", env=env)
    assert done.returncode == 1 and "is `brique up` running?" in done.stderr
    assert server_side(modules) == []
    assert {"brique.cli.jobs", "brique.sdk.client", "httpx"} <= modules
    other_commands = {"brique.cli.billing", "brique.cli.tenancy", "brique.cli.sovereignty", "brique.cli.simulate",
                      "brique.cli.server", "brique.cli.agent", "brique.simulator", "yaml"}  # fmt: skip
    assert other_commands.isdisjoint(modules)
    assert {"brique.schemas.billing", "brique.schemas.agents"}.isdisjoint(
        modules
    )  # the SDK loads schemas per call
    assert not any(m.startswith("trio.") for m in modules)  # httpcore's optional trio probe (~170 ms) misses
    assert {"click", "pygments"}.isdisjoint(modules)  # httpx's own command line (~19 ms) is not loaded
