"""Shared fixtures: a private PostgreSQL for the session, and databases of both kinds per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from brique import native
from tests.support.postgres import PostgresServer, find_bindir

FIXTURES = Path(__file__).parent / "fixtures"
SMALL_FLEET = FIXTURES / "small-fleet.yaml"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header() -> str:
    return f"brique core: {native.status().describe()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, test the compiled core that `make core` builds (`scripts/compile_core.py`). Elsewhere a
    stale one is fine: `import brique` then runs the sources (`brique._core_guard`)."""
    core = native.status()
    if IN_CI and core.state != "compiled":
        pytest.exit(f"brique core: {core.describe()} (make core)", returncode=3)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        if IN_CI:
            pytest.fail("PostgreSQL server binaries not found; .ci/run must install postgresql")
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql); CI runs these tests")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'brique.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"t_{secrets.token_hex(6)}")
