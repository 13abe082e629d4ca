"""The node agent's isolation decisions, without starting anything: env, shares, argv, URLs."""

from __future__ import annotations

import pytest

from brique.agent.engines import bwrap
from brique.agent.sandbox import (
    JobPlan,
    Network,
    NodeShare,
    container_uid_base,
    job_env,
    parse_size,
    wants_network,
)
from brique.agent.tls import InsecureServer, check_url
from brique.executors.base import Launch


def make_launch(env: dict[str, str] | None = None, nodes: int = 1) -> Launch:
    gpus = {f"s/r/n{i}": (0, 1) for i in range(nodes)}
    return Launch("job_1", 2, "t", "org_a", "prj_a", "s", "standard", "true", gpus, env or {})


def make_plan(**kw: object) -> JobPlan:
    base = dict(key="job_1.2", engine="bwrap", uid=901, gid=901, gpus=(0, 1), memory_bytes=1 << 30, cpus=2.0,
                network=False, scratch="/srv/scratch/job_1.2")  # fmt: skip
    return JobPlan(**{**base, **kw})  # type: ignore[arg-type]


def test_job_env_is_the_spec_plus_gpus_and_identity_and_nothing_of_the_agent(monkeypatch) -> None:
    monkeypatch.setenv("BRIQUE_API_KEY", "agent-secret")
    env = job_env(make_launch({"A": "1", "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}), (3,))
    assert env["A"] == "1" and env["CUDA_VISIBLE_DEVICES"] == "3"  # a spec cannot widen its GPUs
    assert set(env) == {"PATH", "HOME", "LANG", "A", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
                        "BRIQUE_JOB_ID", "BRIQUE_ATTEMPT"}  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "nodes", "expected"),
    [(Network.AUTO, 1, False), (Network.AUTO, 2, True), (Network.NONE, 2, False), (Network.HOST, 1, True)],
    ids=["auto-single-node-none", "auto-gang-host", "none", "host"],
)
def test_network_per_need(policy: Network, nodes: int, expected: bool) -> None:
    assert wants_network(policy, make_launch(nodes=nodes)) is expected


def test_limits_are_the_jobs_share_of_the_node() -> None:
    share = NodeShare(gpus=8, memory_bytes=800 << 30, cpus=96)
    assert share.memory_for(2) == 200 << 30 and share.cpus_for(2) == 24
    assert share.memory_for(16) == 800 << 30  # never more than the node


@pytest.mark.parametrize(
    ("text", "n"), [("512M", 512 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29), ("4096", 4096)]
)
def test_parse_size(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize(
    ("url", "insecure", "ok"),
    [("https://cp.example.eu", False, True), ("http://127.0.0.1:8080", False, True),
     ("http://localhost:8080", False, True), ("http://10.0.0.1:8080", False, False),
     ("http://10.0.0.1:8080", True, True), ("ftp://x", True, False)],
    ids=["https", "loopback-ip", "localhost", "remote-http", "remote-http-insecure-flag", "other-scheme"],
)  # fmt: skip
def test_agent_server_url(url: str, insecure: bool, ok: bool) -> None:
    if ok:
        check_url(url, insecure)
    else:
        with pytest.raises(InsecureServer):
            check_url(url, insecure)


def test_bwrap_keeps_env_values_off_the_command_line_and_binds_no_agent_state() -> None:
    prepared = bwrap(make_plan(), "echo hi", {"TOKEN": "s3cr3t", "PATH": "/bin"})
    assert "s3cr3t" not in " ".join(prepared.argv)
    assert prepared.argv[:3] == ["bwrap", "--args", "PIPE"] and prepared.argv[-3:] == [
        "/bin/sh",
        "-c",
        "echo hi",
    ]
    args = (prepared.stdin_data or b"").split(b"\0")
    assert b"--clearenv" in args and args[args.index(b"TOKEN") + 1] == b"s3cr3t"
    assert args[args.index(b"--uid") + 1] == b"901" and b"--share-net" not in args
    binds = [args[i + 1].decode() for i, a in enumerate(args) if a in (b"--bind", b"--ro-bind")]
    assert "/srv/scratch/job_1.2" in binds and not {"/", "/etc", "/home", "/root", "/var", "/tmp"} & set(
        binds
    )


def test_each_tenant_gets_its_own_container_uid_range() -> None:
    assert container_uid_base(901) - container_uid_base(900) == 65536
    assert container_uid_base(0) >= 1 << 31
