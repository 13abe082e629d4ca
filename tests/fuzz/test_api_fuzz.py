"""A bounded schemathesis run against a real `brique up`: every operation, as an operator and as a
tenant-admin, failing on any 5xx and on any response that breaks the OpenAPI document.

The seed and the budget are the constants below (one place); the run is deterministic. Raise
BRIQUE_FUZZ_EXAMPLES locally to fuzz harder (the issue-11 figures used 5 per operation and phase).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server

SEED = 20261101
EXAMPLES = int(os.environ.get("BRIQUE_FUZZ_EXAMPLES", "5"))  # per operation and phase
PHASES = "examples,coverage,fuzzing"  # coverage: boundary values (huge ints, odd strings) per field
CHECKS = "not_a_server_error,response_schema_conformance"
TIMEOUT_S = 300  # per identity, a hard stop (the run takes about 30-45 s on 2 shared cores)
SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    s = Server(
        home=home, db_url=f"sqlite:///{home / 'brique.db'}", fleet=Path("tests/fixtures/small-fleet.yaml")
    )
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    admin = server.admin_key()
    r = httpx.post(f"{server.url}/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"},
                   headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    tenant = r.json()["admin_key"]["token"]
    r = httpx.post(f"{server.url}/v1/orgs/acme/projects", json={"name": "llm"},
                   headers={"Authorization": f"Bearer {tenant}"})  # fmt: skip
    assert r.status_code == 201, r.text
    return {"operator": admin, "tenant-admin": tenant}


@pytest.mark.parametrize("identity", ["operator", "tenant-admin"])
def test_no_server_errors_and_no_schema_violations(
    server: Server, keys: dict[str, str], identity: str, tmp_path: Path
) -> None:
    run = subprocess.run(
        [*SCHEMATHESIS, "run", f"{server.url}/openapi.json", "--checks", CHECKS, "--seed", str(SEED),
         "--max-examples", str(EXAMPLES), "--phases", PHASES, "--workers", "1",
         "--no-shrink", "--suppress-health-check", "all", "--output-sanitize", "true",
         "--header", f"Authorization: Bearer {keys[identity]}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    out = run.stdout + run.stderr
    tested = re.search(r"Tested: (\d+)", out)
    cases = re.search(r"(\d+) generated", out)
    print(f"\nfuzz as {identity}: {tested[1] if tested else '?'} operations, "
          f"{cases[1] if cases else '?'} requests, exit {run.returncode}")  # fmt: skip
    assert run.returncode == 0, out[-8000:]
    assert tested is not None and int(tested[1]) >= 55, out[-3000:]  # every operation was reached
