"""The issue-16 CLI commands, exactly as written, against a real `brique up`:
`brique reservation create/list/cancel` and `brique invoice --org … --month … --facturx FILE`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import facturx
import httpx
import pytest

from tests.conftest import SMALL_FLEET
from tests.support.server import BRIQUE, Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("commerce") / "home"
    s = Server(home=home, db_url=f"sqlite:///{home / 'brique.db'}", fleet=SMALL_FLEET)
    s.start()
    yield s
    s.stop()


def cli(server: Server, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRIQUE_URL": server.url, "BRIQUE_API_KEY": key, "BRIQUE_HOME": str(server.home),
           "COLUMNS": "200"}  # fmt: skip
    return subprocess.run([*BRIQUE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_reservation_and_facturx_commands(server: Server, tmp_path: Path) -> None:
    admin = server.admin_key()
    r = httpx.post(f"{server.url}/v1/orgs", json={"name": "ministere", "admin_email": "a@min.fr", "country": "FR"},
                   headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    assert r.status_code == 201, r.text
    start = (datetime.now(UTC) + timedelta(days=1)).date()
    made = cli(server, admin, "reservation", "create", "--org", "ministere", "--racks", "2", "--country", "FR",
               "--from", start.isoformat(), "--to", (start + timedelta(days=13)).isoformat(), "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr + made.stdout
    res = json.loads(made.stdout)
    assert (res["site"], len(res["racks"]), res["state"]) == ("fr-tst-1", 2, "approved")
    clash = cli(server, admin, "reservation", "create", "--org", "ministere", "--gpus", "200", "--site", "fr-tst-1",
                "--from", start.isoformat(), "--to", (start + timedelta(days=2)).isoformat())  # fmt: skip
    assert clash.returncode != 0 and "do not fit" in (clash.stderr + clash.stdout)
    listed = cli(server, admin, "reservation", "list")
    assert listed.returncode == 0 and res["id"] in listed.stdout
    cancelled = cli(server, admin, "reservation", "cancel", res["id"])
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    month = datetime.now(UTC).strftime("%Y-%m")
    pdf = tmp_path / "invoice.pdf"
    done = cli(server, admin, "invoice", "--org", "ministere", "--month", month, "--facturx", str(pdf))
    assert done.returncode == 0, done.stderr + done.stdout
    name, xml = facturx.get_xml_from_pdf(pdf.read_bytes(), check_xsd=True)
    assert name == "factur-x.xml" and b"Test Compute SAS" in xml


def test_contract_terms_and_project_quota_commands(server: Server) -> None:
    admin = server.admin_key()
    r = httpx.post(f"{server.url}/v1/orgs", json={"name": "labo", "admin_email": "a@labo.fr", "country": "FR"},
                   headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    tenant = r.json()["admin_key"]["token"]
    assert httpx.post(f"{server.url}/v1/orgs/labo/projects", json={"name": "ocr"},
                      headers={"Authorization": f"Bearer {tenant}"}).status_code == 201  # fmt: skip
    done = cli(server, admin, "contract", "set", "labo", "--guaranteed", "8", "--commitment", "17520.00",
               "--rate", "priority=3.00", "--overage-rate", "3.30", "--from", "2026-01-01", "--budget-exempt",
               "priority", "--inference-rpm", "600")  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    listed = cli(server, admin, "contract", "list", "labo", "--as-json")
    [c] = json.loads(listed.stdout)
    assert (c["monthly_commitment"], c["rates"], c["version"], c["budget_exempt_tiers"]) == (
        "17520.00", {"priority": "3.00"}, 1, ["priority"])
    assert (c["inference_requests_per_min"], c["inference_tokens_per_min"]) == (600, None)
    table = cli(server, admin, "contract", "list", "labo")
    assert "600 / default" in table.stdout, table.stdout
    bad = cli(server, admin, "contract", "set", "labo", "--commitment", "10")
    assert bad.returncode != 0 and "priority rate" in (bad.stderr + bad.stdout)
    quota = cli(server, tenant, "project", "quota", "labo", "ocr", "--max-gpus", "8", "--weight", "2")
    assert quota.returncode == 0 and "at most 8 GPUs, weight 2" in quota.stdout, quota.stderr + quota.stdout
