"""`brique up --demo`: example tenants with contracts, and a live stream of real trace jobs."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brique.sdk import Client
from tests.support.postgres import free_port
from tests.support.server import BRIQUE


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    home = tmp_path / "home"
    log = tmp_path / "demo.log"
    proc = subprocess.Popen(
        [*BRIQUE, "up", "--port", str(port), "--home", str(home), "--demo", "--demo-load", "300",
         "--demo-speed", "600"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield url, home
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "demo: 4 tenants with contracts; replaying" in log.read_text()


def test_demo_seeds_tenants_and_streams_jobs(demo: tuple[str, Path]) -> None:
    url, home = demo
    keys = json.loads((home / "demo-keys.json").read_text())
    assert sorted(keys) == ["banque-europa", "labo-ia", "ministere-defense", "telco-nord"]
    assert (home / "demo-keys.json").stat().st_mode & 0o777 == 0o600
    admin = (home / "admin.key").read_text().strip()
    with Client(url, admin) as op:
        contracts = op.list_contracts("ministere-defense")
        assert contracts[0].guaranteed_gpus == 2304
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = op.list_jobs(limit=2000)
            if sum(j.state.value == "succeeded" for j in jobs) >= 5:
                break
            time.sleep(1)
        states = {j.state.value for j in jobs}
        assert "succeeded" in states, states
        assert op.fleet_capacity().gpus_allocated > 0 or "running" not in states
    with Client(url, keys["ministere-defense"]) as tenant:
        mine = tenant.list_jobs(limit=2000)
        assert all(j.site in (None, "fr-par-1") for j in mine)  # FR + SecNumCloud policy of this tenant
    for tenant_name, site in (("telco-nord", "se-lul-1"), ("labo-ia", "de-fra-1")):  # DE and SE are used too
        with Client(url, keys[tenant_name]) as tenant:
            assert all(j.site in (None, site) for j in tenant.list_jobs(limit=2000)), tenant_name
