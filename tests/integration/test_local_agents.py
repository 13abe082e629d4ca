"""The local executor for real: `brique up` plus two `brique agent` processes running real jobs.

Covers CUDA_VISIBLE_DEVICES, exit codes, cancel with SIGTERM then SIGKILL, multi-node gangs,
agent loss (node down, job lost and requeued), and crash safety: SIGKILL of the control plane
mid-run loses no accepted job and runs none twice.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brique.sdk import Client
from tests.support.lab import NODES, Lab


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path, f"sqlite:///{tmp_path / 'brique.db'}")
    try:
        lab.boot()
        yield lab
    finally:
        lab.close()


def test_real_processes_with_gpus_exit_codes_and_logs(lab: Lab) -> None:
    ok = lab.submit('echo "gpus=$CUDA_VISIBLE_DEVICES nv=$NVIDIA_VISIBLE_DEVICES var=$MY_VAR"', gpus=2,
                    env={"MY_VAR": "hello"})  # fmt: skip
    bad = lab.submit("echo failing >&2; exit 3", gpus=1)
    job = lab.wait_state(ok, "succeeded")
    assert job.exit_code == 0
    assert "gpus=0,1 nv=0,1 var=hello" in lab.logs(ok)
    failed = lab.wait_state(bad, "failed")
    assert failed.exit_code == 3 and "failing" in lab.logs(bad)


def test_cancel_sends_sigterm_then_sigkill_after_grace(lab: Lab) -> None:
    polite = lab.submit("trap 'echo got TERM; exit 0' TERM; echo started; sleep 60 & wait", grace_s=10)
    stubborn = lab.submit("trap 'echo ignoring TERM' TERM; echo started; while true; do sleep 0.1; done",
                          grace_s=2)  # fmt: skip
    for j in (polite, stubborn):
        lab.wait_state(j, "running")
        lab.wait(lambda j=j: "started" in lab.logs(j), "job output")
    with lab.tenant() as c:
        c.cancel_job(polite)
        c.cancel_job(stubborn)
    lab.wait_state(polite, "cancelled", timeout=15)
    assert "got TERM" in lab.logs(polite)
    t0 = time.monotonic()
    job = lab.wait_state(stubborn, "cancelled", timeout=20)
    assert job.exit_code == -9  # killed once the grace period ran out
    assert "ignoring TERM" in lab.logs(stubborn)
    assert time.monotonic() - t0 < 15


def test_multi_node_gang_runs_on_both_nodes(lab: Lab) -> None:
    job_id = lab.submit("echo rank gpus=$CUDA_VISIBLE_DEVICES; sleep 1", gpus=4)
    job = lab.wait_state(job_id, "succeeded", timeout=30)
    assert sorted({g.rsplit("/", 1)[0] for g in job.gpu_ids}) == list(NODES)
    logs = lab.attempt_logs(job_id)
    assert len(logs) == 2  # one process per node
    assert all(text == "rank gpus=0,1\n" for text in logs.values())


def test_silent_agent_marks_node_down_and_job_is_requeued(lab: Lab) -> None:
    job_id = lab.submit("echo run; sleep 3", gpus=2, retries=1)
    job = lab.wait_state(job_id, "running")
    node = job.gpu_ids[0].rsplit("/", 1)[0]
    lab.agents[node].stop(signal.SIGKILL)
    job = lab.wait_state(job_id, "pending", "scheduled", "running", "succeeded", timeout=20)
    lab.wait(lambda: lab.job(job_id).attempt == 2, "requeued after node loss", 20)
    events = [e.code for e in lab.job(job_id).events]
    assert "lost" in events and "retry" in events
    job = lab.wait_state(job_id, "succeeded", timeout=30)
    assert job.gpu_ids[0].rsplit("/", 1)[0] != node
    with Client(lab.server.url, lab.server.admin_key()) as op:
        down = op.nodes(state="down")
    assert [n.id for n in down] == [node] and (down[0].state_reason or "").startswith("agent: no heartbeat")


def test_control_plane_sigkill_loses_no_job_and_runs_none_twice(lab: Lab) -> None:
    accepted = [lab.submit("echo run; sleep 3", gpus=1) for _ in range(6)]
    lab.wait(
        lambda: any(lab.job(j).state.value in ("running", "succeeded") for j in accepted), "work started"
    )
    lab.server.stop(signal.SIGKILL)  # mid-run: jobs keep running under their agents
    time.sleep(1.5)
    lab.server.start()
    more = [lab.submit("echo run; sleep 1", gpus=1) for _ in range(2)]
    for job_id in (*accepted, *more):
        assert lab.wait_state(job_id, "succeeded", timeout=60).attempt == 1
    for job_id in (*accepted, *more):
        assert list(lab.attempt_logs(job_id).values()) == ["run\n"]  # ran exactly once, on one node


def test_logs_follow_streams_until_the_job_ends(lab: Lab) -> None:
    job_id = lab.submit("for i in 1 2 3 4 5; do echo line $i; sleep 0.5; done", gpus=1)
    lab.wait_state(job_id, "running")
    started = time.monotonic()
    with lab.tenant() as c:
        text = b"".join(c.logs(job_id, follow=True)).decode()  # returns once the attempt is over
    assert [line for line in text.splitlines() if line.startswith("line")] == [
        f"line {i}" for i in range(1, 6)
    ]
    assert lab.job(job_id).state.value == "succeeded"
    assert time.monotonic() - started < 30
