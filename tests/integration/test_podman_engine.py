"""The `podman` engine for real: the same plan and wrapper as bwrap, the final exec is `podman run`.

Where the kernel refuses to start a container (on the project's test machines crun stops at
"cgroups in hybrid mode not supported"), the test skips quoting the refusal; everything up to
the engine (plan, argv, env file on a pipe, user namespace mapping, limits) is still checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brique.agent.engines import Podman
from brique.agent.sandbox import JobPlan, container_uid_base
from tests.support.images import OS_NAME, build_busybox_image, podman_store

# what a runtime says when the kernel or its cgroup set-up will not let it start a container
REFUSAL = re.compile(r"(OCI runtime error|OCI permission denied|crun:|runc:)[^\n]*")


def plan(tmp: Path, image_id: str, uid: int | None) -> JobPlan:
    scratch = tmp / "scratch"
    scratch.mkdir()
    if uid is not None:
        os.chown(scratch, container_uid_base(uid), container_uid_base(uid))
    return JobPlan(key="job_podmantest.1", engine="podman", uid=uid, gid=uid, gpus=(0,), memory_bytes=256 << 20,
                   cpus=1.0, network=False, scratch=str(scratch), image="localhost/brique-test/busybox:1",
                   image_id=image_id)  # fmt: skip


def test_podman_argv_isolates_and_mounts_nothing_of_the_agent(tmp_path: Path) -> None:
    podman = Podman(*podman_store(tmp_path)[1::2])
    p = plan(tmp_path, "sha256:abc", uid=900)
    argv = podman.run_argv(p, "echo hi", "brique-job-1")
    joined = " ".join(argv)
    base = container_uid_base(900)
    for flag in ("--read-only", "--cap-drop=all", "--security-opt=no-new-privileges", "--pull=never",
                 f"--uidmap 0:{base}:65536", "--network none", "--memory 268435456", "--cpus 1"):  # fmt: skip
        assert flag in joined
    assert [a for a in argv if a.startswith("type=bind")] == [f"type=bind,src={p.scratch},dst=/work,rw"]
    assert "-v" not in argv and "--volume" not in argv and "--privileged" not in argv
    assert argv[argv.index("--env-file") + 1] == "ENVFILE"  # values travel on a pipe, not in argv
    assert argv[-4:] == ["sha256:abc", "/bin/sh", "-c", "echo hi"]


def test_podman_run_through_the_wrapper(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("rootful podman: run as root, as CI does")
    image_id = build_busybox_image(tmp_path / "images")
    store = podman_store(tmp_path / "images")
    attempt = tmp_path / "job_podmantest.1"
    attempt.mkdir(mode=0o700)
    plan(tmp_path, image_id, uid=901).save(attempt / "plan.json")
    (attempt / "podman.json").write_text(json.dumps({"root": store[1], "runroot": store[3],
                                                     "storage_driver": store[5]}))  # fmt: skip
    (attempt / "command").write_text('cat /etc/os-release; echo "secret=$SECRET uid=$(id -u)"')
    wrapper = subprocess.Popen([sys.executable, "-m", "brique.agent.wrapper", str(attempt)],
                               stdin=subprocess.PIPE, env={"PATH": os.environ["PATH"]})  # fmt: skip
    wrapper.communicate(json.dumps({"SECRET": "s3cr3t", "PATH": "/bin"}).encode(), timeout=120)
    deadline = time.monotonic() + 30
    while not (attempt / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = (attempt / "output.log").read_text()
    code = int((attempt / "exit_code").read_text())
    if code != 0 and (refusal := REFUSAL.search(log)):
        pytest.skip(f"this kernel refuses `podman run`: {refusal.group(0).strip()}")
    assert code == 0, log
    assert OS_NAME in log and "secret=s3cr3t uid=0" in log  # root in its namespace, a high uid on the host
