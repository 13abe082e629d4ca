"""Agents and the control plane over TLS on loopback, with a private CA made here (and mutual TLS).

Launch orders carry decrypted secrets: an agent verifies the server against a pinned CA,
refuses plain http off loopback, and a plaintext agent is told the server speaks HTTPS.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.lab import NODES, Lab
from tests.support.pki import TestCA
from tests.support.server import BRIQUE, Agent


def tls_lab(tmp: Path, mutual: bool) -> Lab:
    ca = TestCA(tmp / "pki")
    server = ca.issue("localhost", server=True)
    tls = ["--tls-cert", str(server.cert), "--tls-key", str(server.key)]
    agent_args = ["--ca-file", str(ca.pem)]
    client = None
    if mutual:
        tls += ["--tls-client-ca", str(ca.pem)]
        node = ca.issue("node-lab-1", server=False)
        agent_args += ["--cert", str(node.cert), "--key", str(node.key)]
        operator = ca.issue("operator", server=False)
        client = (str(operator.cert), str(operator.key))
    lab = Lab(
        tmp, f"sqlite:///{tmp / 'brique.db'}", agent_args=agent_args, tls=tls, ca=ca.pem, client_cert=client
    )
    lab.ca = ca  # type: ignore[attr-defined]
    return lab


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    lab = tls_lab(tmp_path, mutual=request.param)
    try:
        lab.boot()
        yield lab
    finally:
        lab.close()


@pytest.mark.parametrize("lab", [False, True], ids=["tls", "mutual-tls"], indirect=True)
def test_agents_run_jobs_over_tls(lab: Lab) -> None:
    assert lab.server.url.startswith("https://")
    job_id = lab.submit('echo "secret=$TOKEN"', gpus=1, env={"TOKEN": "s3cr3t"})
    lab.wait_state(job_id, "succeeded")
    assert "secret=s3cr3t" in lab.logs(job_id)
    env = {**os.environ, "BRIQUE_URL": lab.server.url, "BRIQUE_API_KEY": lab.tenant_key,
           "BRIQUE_CA_FILE": str(lab.server.ca)}  # fmt: skip
    if lab.server.client_cert:
        env |= {
            "BRIQUE_CLIENT_CERT": lab.server.client_cert[0],
            "BRIQUE_CLIENT_KEY": lab.server.client_cert[1],
        }
    cli = subprocess.run([*BRIQUE, "jobs"], env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and job_id in cli.stdout, cli.stderr
    # HTTPS is served by the same hardened protocol: oversized headers are still a JSON 431
    huge = {"Authorization": "Bearer " + "x" * 1_000_000}
    r = httpx.get(f"{lab.server.url}/v1/whoami", headers=huge, verify=lab.server.verify())
    assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"
    if lab.server.client_cert:  # mutual TLS: the CLI without a certificate is turned away
        del env["BRIQUE_CLIENT_CERT"], env["BRIQUE_CLIENT_KEY"]
        refused = subprocess.run([*BRIQUE, "jobs"], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "cannot reach the Brique server" in refused.stderr


@pytest.mark.parametrize("lab", [True], ids=["mutual-tls"], indirect=True)
def test_mutual_tls_refuses_agents_without_a_certificate_and_plaintext_agents(lab: Lab) -> None:
    node = NODES[0]
    bare = Agent(lab.server, node, lab.agent_key, lab.tmp / "bare" / "w", extra=["--ca-file", str(lab.ca.pem),
                 "--sandbox-root", str(lab.sandbox)])  # type: ignore[attr-defined]  # fmt: skip
    plain = Agent(lab.server, node, lab.agent_key, lab.tmp / "plain" / "w", url=lab.server.url.replace("https", "http"),
                  extra=["--sandbox-root", str(lab.sandbox)])  # fmt: skip
    other_ca = TestCA(lab.tmp / "other-pki", "Someone else's CA")
    stranger = Agent(lab.server, node, lab.agent_key, lab.tmp / "stranger" / "w",
                     extra=["--ca-file", str(other_ca.pem), "--sandbox-root", str(lab.sandbox)])  # fmt: skip
    agents = (bare, plain, stranger)
    for agent in agents:
        agent.start()
    try:
        lab.wait(lambda: all("retrying" in a.log.read_text() for a in agents), "three refusals")
    finally:
        for agent in agents:
            agent.stop()
    assert "cannot reach the Brique server" in bare.log.read_text()
    assert "it may serve HTTPS only (use an https:// URL)" in plain.log.read_text()
    assert "certificate is not signed by a trusted CA" in stranger.log.read_text()
    assert not any("serving node" in a.log.read_text() for a in agents)


def test_agent_refuses_plain_http_to_a_remote_server_and_a_missing_ca_file(tmp_path: Path) -> None:
    common = [*BRIQUE, "agent", "--node", NODES[0], "--gpus", "1", "--workdir", str(tmp_path)]
    refused = subprocess.run([*common, "--server", "http://10.9.8.7:8080", "--token", "x"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1
    assert "refusing plain http to 10.9.8.7: launch orders carry decrypted secrets" in refused.stderr
    missing_ca = subprocess.run([*common, "--server", "https://127.0.0.1:9", "--token", "x", "--ca-file",
                                 str(tmp_path / "nope.pem")], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert missing_ca.returncode == 1 and "No such file" in missing_ca.stderr


def test_brique_up_checks_its_tls_files_before_starting(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    server, other = ca.issue("localhost", server=True), ca.issue("other", server=True)
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate")
    up = [*BRIQUE, "up", "--port", "9", "--home", str(tmp_path / "home")]
    cases = [
        (["--tls-cert", str(server.cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(server.cert), "--tls-key", str(other.key)], "cannot load the certificate and its key"),
        (["--tls-cert", str(server.cert), "--tls-key", str(server.key), "--tls-client-ca", str(not_pem)],
         "--tls-client-ca: not a PEM CA certificate"),
        (["--tls-cert", str(tmp_path / "nope.crt"), "--tls-key", str(server.key)], "--tls-cert: no such file"),
    ]  # fmt: skip
    for args, message in cases:
        done = subprocess.run([*up, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists()  # refused before any data dir or database was made
