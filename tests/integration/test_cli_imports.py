"""Client commands against a real `brique up` import the SDK and their own module, never the server's.

Not timed (benchmarks/cli_latency.py measures); this pins what the time follows: the modules loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from brique.sdk import Client
from tests.conftest import SMALL_FLEET
from tests.support.server import Server
from tests.unit.cli.imports import run_probed, server_side


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'brique.db'}", fleet=SMALL_FLEET)
    s.start()
    yield s
    s.stop()


def test_client_commands_never_import_the_server(server: Server, tmp_path: Path) -> None:
    with Client(server.url, server.admin_key()) as c:
        created = c.create_org("acme", admin_email="alice@acme.eu")
        assert created.admin_key is not None
        key = created.admin_key.token
    env = {"BRIQUE_URL": server.url, "BRIQUE_API_KEY": key}
    spec = tmp_path / "job.yaml"
    spec.write_text("name: train\nproject: llm\ncommand: sleep 60\ngpus: 8\n")

    steps = [("project", "create", "llm"), ("submit", str(spec)), ("jobs",), ("jobs", "--json"), ("whoami",),
             ("fleet",)]  # fmt: skip
    for args in steps:
        done, modules = run_probed(tmp_path, *args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        assert server_side(modules) == [], args
        assert "brique.sdk.client" in modules, args
    assert [j["name"] for j in json.loads(run_probed(tmp_path, "jobs", "--json", env=env)[0].stdout)] == [
        "train"
    ]
