"""Real processes for one node: start, signal, reap, and report each attempt.

Every attempt has a directory `WORKDIR/<job>.<attempt>/` holding its command, `work/`
(the job's cwd), `output.log`, the process group id, the stop deadline and the exit code.
All state is on disk, so an agent that restarts finds its running jobs again.

Stopping: SIGTERM to the job's process group at once, SIGKILL once the grace period has
passed (checked on every poll).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from brique.domain.fleet import ExecutorKind
from brique.executors.base import Executor, ExecutorError, Launch, RunReport, RunState, SupportsLogs


class ProcessRunner(Executor, SupportsLogs):
    kind = ExecutorKind.LOCAL

    def __init__(self, workdir: Path, node_id: str, base_env: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.node_id = node_id
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._children: list[subprocess.Popen[bytes]] = []

    def _dir(self, job_id: str, attempt: int) -> Path:
        return self.workdir / f"{job_id}.{attempt}"

    def submit(self, launch: Launch) -> None:
        root = self._dir(launch.job_id, launch.attempt)
        if (root / "wrapper_pid").exists() or root.with_name(f".done-{root.name}").exists():
            return  # already started (or finished and forgotten): never run an attempt twice
        indices = launch.gpus_by_node.get(self.node_id)
        if indices is None:
            raise ExecutorError(f"attempt {launch.key} has no GPUs on node {self.node_id}")
        (root / "work").mkdir(parents=True, exist_ok=True)
        (root / "command").write_text(launch.command, encoding="utf-8")
        visible = ",".join(str(i) for i in indices)
        env = {**self.base_env, **launch.env, "CUDA_VISIBLE_DEVICES": visible, "NVIDIA_VISIBLE_DEVICES": visible,
               "BRIQUE_JOB_ID": launch.job_id, "BRIQUE_ATTEMPT": str(launch.attempt)}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "brique.agent.wrapper", str(root)], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        (root / "started_at").write_text(datetime.now(UTC).isoformat())
        (root / "wrapper_pid").write_text(str(proc.pid))
        self._children.append(proc)

    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        root = self._dir(job_id, attempt)
        if not root.exists() or (root / "exit_code").exists() or (root / "stop_deadline").exists():
            return
        (root / "stop_deadline").write_text(str(time.time() + grace_s))
        self._signal(root, signal.SIGTERM)

    def poll(self) -> list[RunReport]:
        self._reap()
        reports = []
        for root in sorted(self.workdir.glob("job_*")):  # forgotten attempts are renamed `.done-…`
            if not (root / "wrapper_pid").exists():
                continue
            job_id, _, attempt = root.name.rpartition(".")
            reports.append(self._report(root, job_id, int(attempt)))
        return reports

    def forget(self, job_id: str, attempt: int) -> None:
        root = self._dir(job_id, attempt)
        if root.exists():
            os.rename(root, root.with_name(f".done-{root.name}"))

    def read_logs(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        path = self._dir(job_id, attempt) / "output.log"
        if not path.exists():
            return b""
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(limit)

    def _report(self, root: Path, job_id: str, attempt: int) -> RunReport:
        started = _read_time(root / "started_at")
        code_file = root / "exit_code"
        if not code_file.exists():
            if _alive(int((root / "wrapper_pid").read_text())):
                self._enforce_deadline(root)
                return RunReport(job_id, attempt, RunState.RUNNING, started_at=started)
            return RunReport(
                job_id, attempt, RunState.LOST, started_at=started, message="its runner process died"
            )
        code = int(code_file.read_text())
        finished = datetime.fromtimestamp(code_file.stat().st_mtime, UTC)
        if (root / "stop_deadline").exists():
            state = RunState.STOPPED
        else:
            state = RunState.SUCCEEDED if code == 0 else RunState.FAILED
        return RunReport(job_id, attempt, state, exit_code=code, started_at=started, finished_at=finished)

    def _enforce_deadline(self, root: Path) -> None:
        deadline = root / "stop_deadline"
        if deadline.exists() and time.time() >= float(deadline.read_text()):
            self._signal(root, signal.SIGKILL)

    @staticmethod
    def _signal(root: Path, sig: signal.Signals) -> None:
        for _ in range(50):  # the wrapper writes the group id right after it starts the command
            if (root / "pgid").exists():
                break
            time.sleep(0.02)
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.killpg(int((root / "pgid").read_text()), sig)

    def _reap(self) -> None:
        """Collect exited wrappers started by this process (no zombies)."""
        self._children = [p for p in self._children if p.poll() is None]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _read_time(path: Path) -> datetime | None:
    try:
        return datetime.fromisoformat(path.read_text())
    except (OSError, ValueError):
        return None
