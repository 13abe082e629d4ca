"""A hostile tenant on a real node agent (run as root, as CI does): what its jobs can and cannot reach.

One lab (server + two agents) for the module: agents sandbox jobs with bubblewrap, run images
with the `bwrap` runtime from a private podman store holding a busybox image built here, and
offer 512 MiB to jobs (256 MiB per GPU).
"""

from __future__ import annotations

import os
import pwd
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brique.agent.engines import probe_bwrap
from tests.support.images import OS_NAME, build_busybox_image, missing, podman_store, require
from tests.support.lab import Lab

IMAGE = "localhost/brique-test/busybox:1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        missing("the isolation tests need root (a host uid per tenant, cgroups), as CI runs them")
    require("bwrap")
    if problem := probe_bwrap():  # e.g. the kernel refuses user namespaces: fails under CI=true
        missing(problem)
    tmp = tmp_path_factory.mktemp("isolation")
    build_busybox_image(tmp / "images", IMAGE)
    args = ["--memory", "512M", "--cpus", "2", "--container-runtime", "bwrap", "--job-network", "auto"]
    store = podman_store(tmp / "images")
    args += ["--podman-root", store[1], "--podman-runroot", store[3], "--podman-storage-driver", store[5]]
    lab = Lab(tmp, f"sqlite:///{tmp / 'brique.db'}", agent_args=args)
    try:
        lab.boot()
        lab.other_key = lab.add_tenant("globex")
        yield lab
    finally:
        lab.close()


def finished(lab: Lab, job_id: str, state: str = "succeeded") -> str:
    lab.wait_state(job_id, state, timeout=40)
    return lab.logs(job_id)


def snooping(lab: Lab) -> str:
    """Everything a hostile job tries in order to find the agent's or the operator's credentials."""
    agent = next(iter(lab.agents.values()))
    return "; ".join([
        'echo "uid=$(id -u)"', "env | sort", "echo procs=$(ls /proc | grep -c '^[0-9]')",
        "cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'",
        f"ls {agent.workdir} 2>&1", f"cat {agent.log} 2>&1", f"cat {lab.server.home / 'admin.key'} 2>&1",
        f"ls {lab.sandbox / 'scratch'} 2>&1", "ls -a /tmp",
    ])  # fmt: skip


def assert_no_agent_secret(lab: Lab, log: str) -> None:
    assert lab.agent_key not in log
    assert lab.server.admin_key() not in log
    assert "agent-env-marker" not in log and "BRIQUE_API_KEY" not in log and "BRIQUE_URL" not in log
    assert "uid=0\n" not in log


def test_job_without_image_sees_only_its_spec_env_and_none_of_the_agent(lab: Lab) -> None:
    call_home = (
        f"python3 -c \"import urllib.request as u; u.urlopen('{lab.server.url}/v1/whoami', timeout=5)\""
    )
    job_id = lab.submit(f"{snooping(lab)}; {call_home} 2>&1 | tail -1", env={"MY_VAR": "hello"})
    log = finished(lab, job_id)
    # its own network namespace: the control plane on the host's loopback is not there
    assert "urlopen error [Errno 111] Connection refused" in log or "Network is unreachable" in log
    assert_no_agent_secret(lab, log)
    assert "MY_VAR=hello" in log and "CUDA_VISIBLE_DEVICES=0" in log
    env_names = {line.split("=", 1)[0] for line in log.splitlines() if re.match(r"^[A-Z_]+=", line)}
    assert env_names <= {"PATH", "HOME", "LANG", "MY_VAR", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
                         "BRIQUE_JOB_ID", "BRIQUE_ATTEMPT", "PWD", "SHLVL", "OLDPWD", "_"}  # fmt: skip
    assert int(re.search(r"procs=(\d+)", log).group(1)) <= 6  # its own PID namespace  # type: ignore[union-attr]
    assert log.count("No such file or directory") >= 4  # agent dir, agent log, admin key, other scratch
    uid = int(re.search(r"uid=(\d+)", log).group(1))  # type: ignore[union-attr]
    assert uid != 0 and pwd.getpwuid(uid).pw_name.startswith("bq-")


def test_job_with_image_sees_the_image_os_read_only_and_none_of_the_agent(lab: Lab) -> None:
    probe = "cat /etc/os-release; ls /usr/bin/python3 2>&1; echo x > /etc/x 2>&1 || echo rootfs-read-only; "
    probe += "echo ok > /work/out && cat /work/out; echo t > /tmp/t && echo tmp-writable; "
    # no sleep: it may end before the node is next asked, and its start and image are recorded all the same
    job_id = lab.submit(probe + snooping(lab), image=IMAGE)
    log = finished(lab, job_id)
    assert OS_NAME in log and "Debian" not in log
    assert "rootfs-read-only" in log and "ok\n" in log and "tmp-writable" in log
    assert_no_agent_secret(lab, log)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400))
    with lab.tenant() as c:  # the signed evidence names the image that ran, by the id the node found
        report = c.sovereignty_report("acme", today, tomorrow)
        started = [e.message for e in c.get_job(job_id).events if e.code == "started"]
    [entry] = [j for j in report["jobs"] if j["job_id"] == job_id]
    image = entry["placements"][0]["image"]
    assert image["ref"] == IMAGE and image["id"] and image["id"] in started[0], (image, started)


def test_job_processes_run_as_the_tenants_own_non_root_host_uid(lab: Lab) -> None:
    mine = lab.submit("sleep 30 # marker-acme")
    theirs = lab.submit("sleep 30 # marker-globex", tenant=lab.other_key, image=IMAGE)
    for j in (mine, theirs):
        lab.wait_state(j, "running")
    uids = {}
    for tag in ("acme", "globex"):
        lab.wait(lambda tag=tag: bool(host_uids(f"marker-{tag}")), f"{tag}'s processes")
        uids[tag] = host_uids(f"marker-{tag}")
    assert all(u != 0 and u != os.geteuid() for u in uids["acme"] | uids["globex"])
    assert len(uids["acme"]) == 1 and len(uids["globex"]) == 1 and uids["acme"] != uids["globex"]
    assert cgroup_limits(f"{mine}.1") == {
        "memory": 256 << 20,
        "pids": 16_384,
        "cpu_quota_us": 100_000,
    }  # 1 of 2 CPUs
    with lab.tenant() as c:
        c.cancel_job(mine)
    with lab.tenant(lab.other_key) as c:
        c.cancel_job(theirs)


def test_two_tenants_cannot_read_each_others_scratch(lab: Lab) -> None:
    holder = lab.submit("echo secret-of-acme > /work/mine.txt; echo ready; sleep 20")
    lab.wait(lambda: "ready" in lab.logs(holder), "acme's job wrote its file")
    [scratch] = list((lab.sandbox / "scratch").glob(f"*.{holder}.1"))
    assert scratch.stat().st_mode & 0o777 == 0o700
    intruder = lab.submit(f"cat {scratch}/mine.txt 2>&1; ls /work; echo done", tenant=lab.other_key)
    log = finished(lab, intruder)
    assert "secret-of-acme" not in log and "No such file or directory" in log
    assert (scratch / "mine.txt").read_text() == "secret-of-acme\n"  # it was there all along
    with lab.tenant() as c:
        c.cancel_job(holder)


def test_a_job_over_its_memory_share_is_killed_and_fails_saying_so(lab: Lab) -> None:
    job_id = lab.submit("python3 -c \"b = b'x' * (400 << 20); print('survived')\"")  # 1 GPU: 256 MiB
    log = finished(lab, job_id, "failed")
    assert "survived" not in log
    assert "out of memory (limit 256 MiB)" in lab.job(job_id).events[-1].message


def test_cancel_delivers_sigterm_then_sigkill_inside_the_container(lab: Lab) -> None:
    polite = lab.submit(
        "trap 'echo got TERM; exit 0' TERM; echo started; sleep 60 & wait", image=IMAGE, grace_s=10
    )
    stubborn = lab.submit("trap 'echo ignoring TERM' TERM; echo started; while true; do sleep 0.1; done",
                          image=IMAGE, grace_s=2)  # fmt: skip
    for j in (polite, stubborn):
        lab.wait(lambda j=j: "started" in lab.logs(j), "job output")
    with lab.tenant() as c:
        c.cancel_job(polite)
        c.cancel_job(stubborn)
    lab.wait_state(polite, "cancelled", timeout=15)
    assert "got TERM" in lab.logs(polite)
    [started] = [e.message for e in lab.job(polite).events if e.code == "started"]
    assert f"image {IMAGE} (sha256:" in started  # what ran, in the job's events
    t0 = time.monotonic()
    assert lab.wait_state(stubborn, "cancelled", timeout=20).exit_code == -9
    assert "ignoring TERM" in lab.logs(stubborn) and time.monotonic() - t0 < 15


def test_preemption_delivers_sigterm_then_sigkill_after_grace_inside_the_container(lab: Lab) -> None:
    with lab.operator() as op:  # acme's guaranteed share lets its priority work preempt globex's spot jobs
        op.set_contracts("acme", [{"guaranteed_gpus": 4}])
    spot = {"tenant": lab.other_key, "image": IMAGE, "tier": "preemptible", "gpus": 2}
    polite = lab.submit(
        "trap 'echo got TERM; exit 0' TERM; echo started; sleep 60 & wait", grace_s=10, **spot
    )
    stubborn = lab.submit(
        "trap 'echo ignoring TERM' TERM; echo started; while true; do sleep 0.1; done", grace_s=2, **spot
    )
    for j in (polite, stubborn):
        lab.wait(lambda j=j: "started" in lab.logs(j), "spot job output")
    urgent = lab.submit("echo urgent", gpus=4, tier="priority")
    for j in (polite, stubborn):
        lab.wait(lambda j=j: any(e.code == "preempted" for e in lab.job(j).events), f"{j} preempted", 30)
    with lab.tenant(lab.other_key) as c:
        first = {j: b"".join(c.logs(j, attempt=1)).decode() for j in (polite, stubborn)}
    assert "got TERM" in first[polite]
    assert "ignoring TERM" in first[stubborn]  # it ignored SIGTERM: only the SIGKILL after grace ended it
    events = {e.code: e.at for e in lab.job(stubborn).events}
    assert 2 <= (events["preempted"] - events["preempting"]).total_seconds() < 15
    finished(lab, urgent)
    with lab.tenant(lab.other_key) as c:  # their attempt 2 would wait or run; not this test's business
        for j in (polite, stubborn):
            c.cancel_job(j)


def test_an_image_missing_from_the_node_fails_the_job_with_the_reason(lab: Lab) -> None:
    job_id = lab.submit("true", image="localhost/not-here:1")
    lab.wait_state(job_id, "failed", timeout=30)
    assert "not-here" in lab.job(job_id).events[-1].message


def host_uids(marker: str) -> set[int]:
    """Host uids of the processes whose command line holds `marker` (bwrap and the job's shell)."""
    uids = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                uids.add(proc.stat().st_uid)
        except OSError:
            continue
    return uids


def cgroup_limits(key: str) -> dict[str, int]:
    """The limits the kernel holds for one attempt (cgroup v2, else v1)."""
    root = Path("/sys/fs/cgroup")
    v2 = root / "brique" / key
    if v2.is_dir():
        quota = (v2 / "cpu.max").read_text().split()[0]
        return {"memory": int((v2 / "memory.max").read_text()), "pids": int((v2 / "pids.max").read_text()),
                "cpu_quota_us": int(quota)}  # fmt: skip
    return {
        "memory": int((root / "memory" / "brique" / key / "memory.limit_in_bytes").read_text()),
        "pids": int((root / "pids" / "brique" / key / "pids.max").read_text()),
        "cpu_quota_us": int((root / "cpu" / "brique" / key / "cpu.cfs_quota_us").read_text()),
    }
