"""`SlurmExecutor`: runs Brique's placed attempts as Slurm batch jobs.

Brique's scheduler has already chosen the nodes (Slurm 22.05 knows nothing of NVL72
domains), so each attempt is one `sbatch` with an explicit `--nodelist`, `--nodes=N` and
`--gres=gpu:K` per node. Slurm's gres plugin sets CUDA_VISIBLE_DEVICES on every node;
Slurm, not Brique, picks which K GPUs of a node that is.

Stopping is deadline-on-poll, no threads: `stop()` sends SIGTERM to every process of the
job now and writes the kill deadline into the spool dir; the first `poll()` after the
deadline sends SIGKILL and cancels the job. The deadline is on disk, so it survives a
control-plane restart. See docs/executors-slurm.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from brique.clock import Clock, SystemClock
from brique.domain.fleet import ExecutorKind
from brique.executors.base import Executor, ExecutorError, Launch, RunReport, RunState, SupportsLogs
from brique.executors.slurm import states
from brique.executors.slurm.cli import AcctEntry, QueueEntry, SlurmCli
from brique.executors.slurm.config import SlurmConfig
from brique.executors.slurm.naming import job_name, parse_job_name
from brique.executors.slurm.script import BatchRequest, render_script
from brique.executors.slurm.spool import AttemptDir, Spool, StopRequest, env_file_text

# Slurm's gres plugin owns these on every node; a stale value in the job's env would undo it.
_SLURM_OWNED_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"})


class SlurmExecutor(Executor, SupportsLogs):
    kind = ExecutorKind.SLURM

    def __init__(
        self, config: SlurmConfig, *, clock: Clock | None = None, cli: SlurmCli | None = None
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.cli = cli or SlurmCli(
            slurm_conf=config.slurm_conf, bin_dir=config.bin_dir, timeout_s=config.command_timeout_s
        )
        self.spool = Spool(config.spool_dir)
        self.spool.ensure()

    # -- submit ---------------------------------------------------------------------------

    def submit(self, launch: Launch) -> None:
        attempt = self.spool.attempt(launch.key)
        if attempt.slurm_id() is not None:
            return
        if launch.image and self.config.containers != "pyxis":
            raise ExecutorError(f"this Slurm site runs no containers; image {launch.image} cannot run here "
                                "(an operator can enable Pyxis: slurm.containers: pyxis)")  # fmt: skip
        request = self._batch_request(launch, attempt)
        env_text = env_file_text(self._env(launch))  # refuses bad names before Slurm is asked
        existing = self._find_job(request.name)
        if existing is not None:  # submitted before a crash, recorded nowhere yet
            attempt.record_slurm_id(existing)
            return
        attempt.prepare(
            render_script(launch.job_id, launch.attempt, attempt.path, launch.command, launch.image), env_text
        )
        try:
            slurm_id = self.cli.sbatch(request.options(), attempt.script)
        except ExecutorError:
            attempt.env_file.unlink(missing_ok=True)  # no secret outlives a refused submission
            raise
        attempt.record_slurm_id(slurm_id)

    def _batch_request(self, launch: Launch, attempt: AttemptDir) -> BatchRequest:
        return BatchRequest(
            name=job_name(launch.key, self.config.job_name_prefix),
            nodes=[self.config.node_naming.slurm_name(n) for n in launch.gpus_by_node],
            gpus_per_node=_gpus_per_node(launch.gpus_by_node),
            max_runtime_s=launch.max_runtime_s,
            attempt_dir=attempt.path,
            log=attempt.log,
            qos=self.config.qos_by_tier.get(launch.tier),
            partition=self.config.partition,
            account=self.config.account,
            extra=self.config.extra_sbatch_args,
        )

    def _env(self, launch: Launch) -> dict[str, str]:
        env = {k: v for k, v in launch.env.items() if k not in _SLURM_OWNED_ENV}
        return {**env, "BRIQUE_JOB_ID": launch.job_id, "BRIQUE_ATTEMPT": str(launch.attempt)}

    def _find_job(self, name: str) -> int | None:
        """Slurm's id of a job with this name, from squeue, else from accounting if there is any."""
        entries: list[QueueEntry] | list[AcctEntry] = self.cli.squeue(name=name)
        if not entries:
            entries = self.cli.sacct(names=[name]) or []
        return max((e.slurm_id for e in entries if e.name == name), default=None)

    # -- stop -----------------------------------------------------------------------------

    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        adir = self.spool.attempt(f"{job_id}.{attempt}")
        name = job_name(adir.key, self.config.job_name_prefix)
        entry = next((e for e in self.cli.squeue(name=name) if states.is_active(e.state)), None)
        if entry is None:
            return  # unknown, or already finished: nothing to stop
        if adir.slurm_id() is None:
            adir.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            adir.record_slurm_id(entry.slurm_id)
        now = self.clock.now().timestamp()
        previous = adir.stop_request()
        deadline = min(now + max(grace_s, 0.0), previous.deadline if previous else float("inf"))
        adir.record_stop(StopRequest(deadline, killed=previous.killed if previous else False))
        if states.normalize(entry.state) == "PENDING" or deadline <= now:
            self._kill(adir, entry.slurm_id)
        else:
            self.cli.scancel(entry.slurm_id, signal="TERM")

    def _kill(self, adir: AttemptDir, slurm_id: int) -> None:
        self.cli.scancel(slurm_id, signal="KILL")
        self.cli.scancel(slurm_id)  # and release the allocation
        request = adir.stop_request()
        adir.record_stop(StopRequest(request.deadline if request else 0.0, killed=True))

    # -- poll -----------------------------------------------------------------------------

    def poll(self) -> list[RunReport]:
        queue = {e.slurm_id: e for e in self.cli.squeue()}
        self._adopt(queue.values())
        attempts = [(a, sid) for a in self.spool.submitted() if (sid := a.slurm_id()) is not None]
        gone = [sid for _, sid in attempts if sid not in queue]
        acct = {e.slurm_id: e for e in (self.cli.sacct(ids=gone) or [])} if gone else {}
        return [self._report(a, queue.get(sid) or acct.get(sid)) for a, sid in attempts]

    def _adopt(self, entries: Iterable[QueueEntry]) -> None:
        """Jobs this control plane prepared and sbatch accepted, but whose id it never recorded
        (a crash right after sbatch). Forgotten attempts have no script left and stay forgotten."""
        for entry in entries:
            parsed = parse_job_name(entry.name, self.config.job_name_prefix)
            if parsed is None:
                continue
            adir = self.spool.attempt(f"{parsed[0]}.{parsed[1]}")
            if adir.slurm_id() is None and adir.script.exists():
                adir.record_slurm_id(entry.slurm_id)

    def _report(self, adir: AttemptDir, entry: QueueEntry | AcctEntry | None) -> RunReport:
        job_id, _, attempt = adir.key.rpartition(".")
        stop = adir.stop_request()
        exit_record = adir.exit_record()
        started = adir.started_at() or (entry.started_at if entry else None)
        if entry is not None and states.is_active(entry.state):
            self._enforce_deadline(adir, entry.slurm_id, stop)
            state = states.active_state(entry.state)
            return RunReport(
                job_id, int(attempt), state, started_at=started if state is RunState.RUNNING else None
            )
        exit_code = exit_record.code if exit_record else getattr(entry, "exit_code", None)
        if entry is not None:
            state, message = states.final_state(entry.state, stop_requested=stop is not None)
        else:
            state, message = states.final_from_exit_code(exit_code, stop_requested=stop is not None)
        finished = _first(exit_record.at if exit_record else None, entry.ended_at if entry else None)
        return RunReport(job_id, int(attempt), state, exit_code, started, finished, message)

    def _enforce_deadline(self, adir: AttemptDir, slurm_id: int, stop: StopRequest | None) -> None:
        if stop is not None and not stop.killed and self.clock.now().timestamp() >= stop.deadline:
            self._kill(adir, slurm_id)

    # -- logs and bookkeeping ---------------------------------------------------------------

    def read_logs(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        return self.spool.attempt(f"{job_id}.{attempt}").read_log(offset, limit)

    def forget(self, job_id: str, attempt: int) -> None:
        self.spool.attempt(f"{job_id}.{attempt}").forget()


def _gpus_per_node(gpus_by_node: Mapping[str, tuple[int, ...]]) -> int:
    if not gpus_by_node:
        raise ExecutorError("a Slurm job needs at least one node")
    counts = {len(g) for g in gpus_by_node.values()}
    if len(counts) != 1:
        raise ExecutorError(
            "the Slurm executor needs the same GPU count on every node of a job "
            f"(got {sorted(counts)}): --gres=gpu:K is per node"
        )
    return counts.pop()


def _first(*values: datetime | None) -> datetime | None:
    return next((v for v in values if v is not None), None)
