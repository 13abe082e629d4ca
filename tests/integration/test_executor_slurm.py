"""The Slurm executor against a real, private Slurm cluster (slurmctld + 3 slurmd + munged).

Pins: jobs run on the nodes Brique chose with the GPUs it asked for; exit codes map to
succeeded/failed; stop() sends SIGTERM first and kills after the grace period; submit is
idempotent per job+attempt, also across a control-plane restart; a restarted executor finds
its jobs again; secret env values never reach Slurm or a command line.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from brique.executors.base import ExecutorError, Launch, RunReport, RunState, capabilities
from brique.executors.slurm import NodeNaming, SlurmConfig, SlurmExecutor, states
from brique.executors.slurm.naming import job_name, parse_job_name
from brique.executors.slurm.script import BatchRequest
from tests.support.slurm import SlurmCluster

N1, N2, N3 = (f"slurm-1/r001/n0{i}" for i in (1, 2, 3))
ALL_GPUS = (0, 1, 2, 3)
LOOP = "while :; do sleep 0.1; done"


@pytest.fixture
def config(slurm_cluster: SlurmCluster, tmp_path: Path) -> SlurmConfig:
    return SlurmConfig(spool_dir=tmp_path / "spool", slurm_conf=slurm_cluster.conf, command_timeout_s=15)


@pytest.fixture
def executor(config: SlurmConfig) -> Iterator[SlurmExecutor]:
    ex = SlurmExecutor(config)
    yield ex
    left = [r for r in ex.poll() if not r.state.finished]
    for report in left:  # leave the cluster idle for the next test
        ex.stop(report.job_id, report.attempt, 0)
    deadline = time.monotonic() + 20
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [r for r in ex.poll() if not r.state.finished]


def make_launch(
    command: str,
    *,
    gpus_by_node: Mapping[str, tuple[int, ...]] | None = None,
    env: Mapping[str, str] | None = None,
    attempt: int = 1,
) -> Launch:
    return Launch(
        job_id=f"job_{secrets.token_hex(8)}", attempt=attempt, name="t", org_id="org_t", project_id="prj_t",
        site_id="slurm-1", tier="standard", command=command, gpus_by_node=gpus_by_node or {N1: (0,)},
        env=env or {}, max_runtime_s=300, grace_s=5,
    )  # fmt: skip


def report_of(ex: SlurmExecutor, launch: Launch) -> RunReport | None:
    return next((r for r in ex.poll() if (r.job_id, r.attempt) == (launch.job_id, launch.attempt)), None)


def wait_for(
    ex: SlurmExecutor, launch: Launch, ok: Callable[[RunReport], bool], timeout_s: float = 30
) -> RunReport:
    deadline = time.monotonic() + timeout_s
    report = None
    while time.monotonic() < deadline:
        report = report_of(ex, launch)
        if report is not None and ok(report):
            return report
        time.sleep(0.2)
    raise AssertionError(f"timed out; last report: {report}")


def finished(ex: SlurmExecutor, launch: Launch, timeout_s: float = 30) -> RunReport:
    return wait_for(ex, launch, lambda r: r.state.finished, timeout_s)


def running_with_log(ex: SlurmExecutor, launch: Launch, marker: bytes) -> RunReport:
    report = wait_for(ex, launch, lambda r: r.state is RunState.RUNNING and marker in logs(ex, launch))
    return report


def logs(ex: SlurmExecutor, launch: Launch) -> bytes:
    return ex.read_logs(launch.job_id, launch.attempt)


def slurm_jobs_named(cluster: SlurmCluster, launch: Launch) -> list[str]:
    out = cluster.run("squeue", "--states=all", "--noheader", "--format=%i", f"--name=brq-{launch.key}")
    return out.split()


def test_job_runs_on_the_chosen_node_succeeds_and_its_output_is_in_the_logs(executor: SlurmExecutor) -> None:
    launch = make_launch(
        'echo "hello from $SLURMD_NODENAME gpus=$CUDA_VISIBLE_DEVICES job=$BRIQUE_JOB_ID"',
        gpus_by_node={N2: (0, 1)},
    )
    executor.submit(launch)
    report = finished(executor, launch)
    assert (report.state, report.exit_code) == (RunState.SUCCEEDED, 0)
    assert report.started_at is not None and report.finished_at is not None
    assert f"hello from r001n02 gpus=0,1 job={launch.job_id}".encode() in logs(executor, launch)
    assert executor.read_logs(launch.job_id, 1, offset=6, limit=4) == b"from"
    assert capabilities(executor) == ["submit", "stop", "poll", "logs"]


def test_failing_command_is_failed_with_its_exit_code_and_forget_drops_it(executor: SlurmExecutor) -> None:
    launch = make_launch("echo about to fail; exit 3")
    executor.submit(launch)
    report = finished(executor, launch)
    assert (report.state, report.exit_code) == (RunState.FAILED, 3)
    executor.forget(launch.job_id, launch.attempt)
    assert report_of(executor, launch) is None
    assert b"about to fail" in logs(executor, launch)  # logs outlive the bookkeeping


def test_stop_sends_sigterm_first_and_the_job_is_stopped(executor: SlurmExecutor) -> None:
    launch = make_launch(f"trap 'echo got SIGTERM; exit 0' TERM; echo ready; {LOOP}")
    executor.submit(launch)
    running_with_log(executor, launch, b"ready")
    executor.stop(launch.job_id, launch.attempt, grace_s=30)
    report = finished(executor, launch, timeout_s=20)
    assert report.state is RunState.STOPPED
    assert b"got SIGTERM" in logs(executor, launch)


def test_a_job_ignoring_sigterm_is_killed_after_the_grace_period(executor: SlurmExecutor) -> None:
    launch = make_launch(f"trap 'echo ignoring SIGTERM' TERM; echo ready; {LOOP}")
    executor.submit(launch)
    running_with_log(executor, launch, b"ready")
    stopped_at = time.monotonic()
    executor.stop(launch.job_id, launch.attempt, grace_s=2)
    time.sleep(1)
    assert report_of(executor, launch).state is RunState.RUNNING  # type: ignore[union-attr]
    report = finished(executor, launch, timeout_s=20)
    assert report.state is RunState.STOPPED
    assert 2 <= time.monotonic() - stopped_at < 15
    assert b"ignoring SIGTERM" in logs(executor, launch)


def test_stopping_a_pending_job_cancels_it(executor: SlurmExecutor) -> None:
    holder = make_launch(LOOP, gpus_by_node={N3: ALL_GPUS})
    waiter = make_launch("echo should never run", gpus_by_node={N3: ALL_GPUS})
    executor.submit(holder)
    wait_for(executor, holder, lambda r: r.state is RunState.RUNNING)
    executor.submit(waiter)
    assert wait_for(executor, waiter, lambda r: r.state is RunState.STARTING).started_at is None
    executor.stop(waiter.job_id, waiter.attempt, grace_s=30)
    assert finished(executor, waiter).state is RunState.STOPPED
    executor.stop(holder.job_id, holder.attempt, grace_s=0)
    assert finished(executor, holder).state is RunState.STOPPED
    assert logs(executor, waiter) == b""


def test_submit_is_idempotent_per_job_and_attempt(
    executor: SlurmExecutor, config: SlurmConfig, slurm_cluster: SlurmCluster
) -> None:
    launch = make_launch(f"echo once; {LOOP}")
    executor.submit(launch)
    executor.submit(launch)
    (config.spool_dir / launch.key / "slurm_id").unlink()  # as if we crashed right after sbatch
    SlurmExecutor(config).submit(launch)
    assert len(slurm_jobs_named(slurm_cluster, launch)) == 1
    running_with_log(executor, launch, b"once")
    slurm_id = (config.spool_dir / launch.key / "slurm_id").read_text()
    executor.stop(launch.job_id, launch.attempt, grace_s=0)
    finished(executor, launch)
    SlurmExecutor(config).submit(launch)  # a finished attempt is not run again either
    assert (config.spool_dir / launch.key / "slurm_id").read_text() == slurm_id
    assert len(slurm_jobs_named(slurm_cluster, launch)) <= 1
    assert logs(executor, launch).count(b"once") == 1


def test_a_gang_gets_its_gpus_on_every_node(executor: SlurmExecutor, slurm_cluster: SlurmCluster) -> None:
    launch = make_launch(
        "srun --ntasks-per-node=1 sh -c 'echo \"node=$SLURMD_NODENAME gpus=$CUDA_VISIBLE_DEVICES\"'; sleep 2",
        gpus_by_node={N1: ALL_GPUS, N3: ALL_GPUS},
    )
    executor.submit(launch)
    slurm_id = (executor.config.spool_dir / launch.key / "slurm_id").read_text().strip()
    job = slurm_cluster.run("scontrol", "show", "job", slurm_id)
    assert "ReqNodeList=r001n[01,03]" in job and "gres:gpu:4" in job
    report = finished(executor, launch)
    assert report.state is RunState.SUCCEEDED, logs(executor, launch)
    out = logs(executor, launch)
    assert b"node=r001n01 gpus=0,1,2,3" in out and b"node=r001n03 gpus=0,1,2,3" in out


def test_a_restarted_executor_finds_its_running_jobs(executor: SlurmExecutor, config: SlurmConfig) -> None:
    launch = make_launch(f"echo up; {LOOP}", gpus_by_node={N2: ALL_GPUS})
    executor.submit(launch)
    running_with_log(executor, launch, b"up")
    restarted = SlurmExecutor(config)  # a fresh process would see exactly this: the spool and Slurm
    report = report_of(restarted, launch)
    assert report is not None and report.state is RunState.RUNNING and report.started_at is not None
    restarted.stop(launch.job_id, launch.attempt, grace_s=0)
    assert finished(restarted, launch).state is RunState.STOPPED


def test_secret_env_values_never_reach_slurm_or_a_command_line(
    executor: SlurmExecutor, slurm_cluster: SlurmCluster
) -> None:
    secret = f"s3cr3t-{secrets.token_hex(8)}"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    launch = make_launch(
        f'echo "sha=$(printf %s "$API_TOKEN" | sha256sum)"; {LOOP}', env={"API_TOKEN": secret}
    )
    executor.submit(launch)
    running_with_log(executor, launch, b"sha=")
    assert f"sha={digest}".encode() in logs(executor, launch)  # the job did get the value
    slurm_id = (executor.config.spool_dir / launch.key / "slurm_id").read_text().strip()
    seen = [
        slurm_cluster.run("scontrol", "show", "job", "-dd", slurm_id),
        slurm_cluster.run("scontrol", "write", "batch_script", slurm_id, "-"),
        subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout,
    ]
    assert all(secret not in text for text in seen)
    assert not (executor.config.spool_dir / launch.key / "env").exists()  # deleted once sourced


def test_without_accounting_the_end_is_known_from_the_spool_after_slurm_forgets_the_job(
    executor: SlurmExecutor, config: SlurmConfig, slurm_cluster: SlurmCluster
) -> None:
    ok, bad = (
        make_launch("echo fine", gpus_by_node={N2: (0,)}),
        make_launch("exit 4", gpus_by_node={N2: (1,)}),
    )
    for launch in (ok, bad):
        executor.submit(launch)
    for launch in (ok, bad):
        finished(executor, launch)
    deadline = time.monotonic() + 60
    while any(slurm_jobs_named(slurm_cluster, x) for x in (ok, bad)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(slurm_jobs_named(slurm_cluster, x) for x in (ok, bad)), "slurmctld kept the jobs"
    restarted = SlurmExecutor(config)
    got = {(r.state, r.exit_code) for r in restarted.poll() if r.job_id in (ok.job_id, bad.job_id)}
    assert got == {(RunState.SUCCEEDED, 0), (RunState.FAILED, 4)}


# -- the pure parts (no cluster needed) --------------------------------------------------------


@pytest.mark.parametrize(
    ("naming", "node_id", "expected"),
    [
        (NodeNaming(), "slurm-1/r001/n02", "r001n02"),
        (NodeNaming("{site}-{rack_index}-{node_index}"), "slurm-1/r017/n09", "slurm-1-17-9"),
        (NodeNaming(overrides={"slurm-1/r001/n02": "gpu-a7"}), "slurm-1/r001/n02", "gpu-a7"),
    ],
    ids=["default-template", "custom-template", "override"],
)
def test_fleet_node_ids_map_to_slurm_node_names(naming: NodeNaming, node_id: str, expected: str) -> None:
    assert naming.slurm_name(node_id) == expected


@pytest.mark.parametrize("node_id", ["not-a-node", "s/r001/n01/g0"], ids=["no-rack", "gpu-id"])
def test_node_ids_that_cannot_be_named_are_refused(node_id: str) -> None:
    with pytest.raises(ExecutorError):
        NodeNaming().slurm_name(node_id)


def test_job_names_round_trip_and_foreign_names_are_ignored() -> None:
    assert parse_job_name(job_name("job_abc.3")) == ("job_abc", 3)
    assert [parse_job_name(n) for n in ("wrap", "brq-nodot", "brq-job.x")] == [None, None, None]


def test_sbatch_options_carry_brique_s_choices() -> None:
    request = BatchRequest(
        name="brq-job_a.1", nodes=["r001n01", "r001n03"], gpus_per_node=4, max_runtime_s=61,
        attempt_dir=Path("/spool/job_a.1"), log=Path("/spool/job_a.1/output.log"), qos="high",
    )  # fmt: skip
    opts = request.options()
    assert {"--nodes=2", "--nodelist=r001n01,r001n03", "--gres=gpu:4", "--time=2", "--qos=high"} <= set(opts)
    assert "--no-requeue" in opts and not any(o.startswith("--partition") for o in opts)


@pytest.mark.parametrize(
    ("slurm_state", "stopped", "expected"),
    [
        ("COMPLETED", False, RunState.SUCCEEDED),
        ("FAILED", False, RunState.FAILED),
        ("TIMEOUT", False, RunState.FAILED),
        ("OUT_OF_MEMORY", False, RunState.FAILED),
        ("CANCELLED by 0", False, RunState.FAILED),
        ("CANCELLED by 0", True, RunState.STOPPED),
        ("COMPLETED", True, RunState.STOPPED),
        ("NODE_FAIL", False, RunState.LOST),
        ("NODE_FAIL", True, RunState.LOST),
    ],
    ids=lambda v: str(v),
)
def test_final_slurm_states_map_to_run_states(slurm_state: str, stopped: bool, expected: RunState) -> None:
    assert states.final_state(slurm_state, stop_requested=stopped)[0] is expected


def test_uneven_gpu_counts_and_bad_env_names_are_refused_before_slurm_is_asked(tmp_path: Path) -> None:
    ex = SlurmExecutor(SlurmConfig(spool_dir=tmp_path, bin_dir=tmp_path / "no-slurm-here"))
    with pytest.raises(ExecutorError, match="same GPU count"):
        ex.submit(make_launch("true", gpus_by_node={N1: (0, 1), N2: (0,)}))
    with pytest.raises(ExecutorError, match="invalid environment variable names"):
        ex.submit(make_launch("true", env={"BAD-NAME": "x"}))
