"""The real thing: `brique up` as a process on a free port, driven by the `brique` CLI and the SDK."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from brique.errors import NotFound, Unauthenticated, Unavailable
from brique.sdk import ApiError, Client, ConnectionFailed
from tests.support.postgres import free_port
from tests.support.server import BRIQUE, Server


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    s = Server(home=tmp_path / "home", db_url=db_url)
    yield s
    s.stop()


def cli(server: Server, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRIQUE_URL": server.url, "BRIQUE_CONFIG": str(server.home / "profile.json")}
    env.pop("BRIQUE_API_KEY", None)
    if key:
        env["BRIQUE_API_KEY"] = key
    return subprocess.run([*BRIQUE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_up_serves_the_default_fleet_and_cli_works_end_to_end(server: Server) -> None:
    first = server.start()
    assert "loaded 18,000 GPUs in 250 racks over 3 sites" in first
    key_file = server.home / "admin.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    admin = key_file.read_text().strip()

    fleet = cli(server, "fleet", "--json", key=admin)
    assert fleet.returncode == 0, fleet.stderr
    doc = json.loads(fleet.stdout)
    assert doc["total_gpus"] == 18_000 and doc["total_racks"] == 250
    assert {s["site"] for s in doc["sites"]} == {"fr-par-1", "de-fra-1", "se-lul-1"}
    table = cli(server, "fleet", key=admin)
    assert "18,000" in table.stdout and "fr-par-1" in table.stdout

    created = cli(server, "org", "create", "acme", "--admin-email", "alice@acme.eu", "--json", key=admin)
    assert created.returncode == 0, created.stderr
    tenant_key = json.loads(created.stdout)["admin_key"]["token"]
    project = cli(server, "project", "create", "llm", key=tenant_key)
    assert project.returncode == 0 and "created project llm" in project.stdout
    key = cli(server, "key", "create", "--name", "ci", "--json", key=tenant_key)
    ci_key = json.loads(key.stdout)["token"]
    listed = cli(server, "project", "list", "--json", key=ci_key)
    assert [p["name"] for p in json.loads(listed.stdout)] == ["llm"]

    # restart: everything is still there, the fleet is found rather than re-loaded
    server.stop()
    second = server.start()
    assert "found 18,000 GPUs" in second and "operator admin created" not in second
    with Client(server.url, ci_key) as c:
        assert [p.name for p in c.list_projects("acme")] == ["llm"]
        assert c.fleet_capacity().total_gpus == 18_000
    orgs = cli(server, "org", "list", "--json", key=admin)
    assert [o["name"] for o in json.loads(orgs.stdout)] == ["acme"]

    # keys other than the bootstrap admin's (printed once by design) never reach the logs
    logs = server.all_logs()
    assert tenant_key.split("_", 2)[2] not in logs and ci_key.split("_", 2)[2] not in logs
    assert logs.count(admin) == 1


def test_cli_errors_are_one_line_with_exit_codes(server: Server) -> None:
    server.start()
    admin = (server.home / "admin.key").read_text().strip()
    no_key = cli(server, "org", "list")
    assert no_key.returncode == 1
    assert no_key.stderr.strip().splitlines() == [
        "error: missing API key: send 'Authorization: Bearer <key>' — set BRIQUE_API_KEY or run `brique login`"
    ]
    bad = cli(server, "org", "create", "Not Valid", key=admin)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "must be 2-63 lowercase letters" in bad.stderr and "Traceback" not in bad.stderr
    usage = cli(server, "org", "create", key=admin)
    assert usage.returncode == 2
    down = subprocess.run([*BRIQUE, "fleet"], env={**os.environ, "BRIQUE_URL": "http://127.0.0.1:9", "BRIQUE_API_KEY": admin},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 1 and "is `brique up` running?" in down.stderr


def test_login_writes_a_private_profile(server: Server) -> None:
    server.start()
    admin = (server.home / "admin.key").read_text().strip()
    r = cli(server, "login", "--url", server.url, "--key-file", str(server.home / "admin.key"))
    assert r.returncode == 0, r.stderr
    profile = server.home / "profile.json"
    assert profile.stat().st_mode & 0o777 == 0o600
    assert json.loads(profile.read_text()) == {"url": server.url, "api_key": admin}
    assert "operator-admin" in cli(server, "whoami").stdout  # no key in env: the profile is used
    wrong = cli(server, "login", "--url", server.url, "--key", "brq_0000000000000000_" + "x" * 43)
    assert wrong.returncode == 1 and "invalid API key" in wrong.stderr


def test_bad_fleet_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text("name: x\nsites:\n  - id: a\n    country: FR\n    operator: {name: A, country: FR}\n"
                   "    pue: 0.5\n    grid_gco2e_per_kwh: 1\n    racks: [{count: 1, nodes_per_rack: 1, "
                   "gpus_per_node: 1, gpu_model: G, gpu_power_w: 1}]\n")  # fmt: skip
    r = subprocess.run([*BRIQUE, "up", "--fleet", str(bad), "--home", str(tmp_path / "h")],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {bad}: sites[0].pue: must be >= 1.0"


def test_sdk_raises_typed_errors(server: Server) -> None:
    server.start()
    with Client(server.url, "brq_0000000000000000_" + "x" * 43) as c, pytest.raises(ApiError) as info:
        c.list_orgs()
    assert info.value.status == 401 and info.value.code == "unauthenticated"
    assert isinstance(info.value, Unauthenticated)  # one tree: the SDK's errors are BriqueErrors
    with Client(server.url, server.admin_key()) as c, pytest.raises(NotFound) as missing:
        c.get_job("job_doesnotexist0000")
    assert (
        isinstance(missing.value, ApiError)
        and missing.value.status == 404
        and missing.value.code == "not_found"
    )
    with Client(f"http://127.0.0.1:{free_port()}") as c, pytest.raises(Unavailable) as down:
        c.healthz()
    assert isinstance(down.value, ConnectionFailed) and down.value.code == "unreachable"
