"""Real processes for one node: start, signal, reap, and report each attempt.

Every attempt has a directory `WORKDIR/<job>.<attempt>/` (mode 0700, the agent's) holding
its command, its sandbox plan, `work/` (the job's scratch, owned by the tenant's uid),
`output.log`, the process group id, the stop deadline and the exit code. All state is on
disk, so an agent that restarts finds its running jobs again. The job itself sees none of
it but `work/` (see `agent/sandbox.py` and `agent/engines.py`).

Stopping: SIGTERM to the job's processes at once, SIGKILL once the grace period has passed
(checked on every poll); both through the attempt's wrapper, which knows its engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from brique.agent.engines import Podman
from brique.agent.sandbox import (
    DEFAULT_PATH,
    ContainerRuntime,
    JobPlan,
    Network,
    NodeShare,
    Sandbox,
    container_uid_base,
    job_env,
    wants_network,
)
from brique.agent.tenants import tenant_ids
from brique.domain.fleet import ExecutorKind
from brique.executors.base import Executor, ExecutorError, Launch, RunReport, RunState, SupportsLogs

WRAPPER_ENV = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}  # nothing of the agent's own environment


@dataclass(frozen=True)
class Isolation:
    """How this node isolates jobs (the agent's options)."""

    share: NodeShare
    root: Path  # scratch dirs and unpacked images: every ancestor traversable by the tenants' uids
    sandbox: Sandbox = Sandbox.BWRAP
    containers: ContainerRuntime = ContainerRuntime.PODMAN
    network: Network = Network.AUTO
    podman: Podman = field(default_factory=Podman)
    expose: tuple[str, ...] = ()  # host dirs shared read-only with jobs without an image


class ProcessRunner(Executor, SupportsLogs):
    kind = ExecutorKind.LOCAL

    def __init__(self, workdir: Path, node_id: str, isolation: Isolation) -> None:
        self.workdir = workdir
        self.node_id = node_id
        self.isolation = isolation
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)  # the agent's state: no other host user may even list it
        for sub in ("scratch", "images"):  # 0711: a tenant reaches its own dir, lists nobody's
            (isolation.root / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(isolation.root / sub, 0o711)
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
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / "command").write_text(launch.command, encoding="utf-8")
        try:
            plan = self._plan(launch, tuple(indices))
        except (ExecutorError, OSError, ValueError, KeyError) as exc:  # e.g. an image this node lacks
            self._refuse(root, str(exc))  # the attempt fails, saying why
            return
        self._scratch(Path(plan.scratch), plan)
        plan.save(root / "plan.json")
        (root / "image").write_text(plan.image_note(), encoding="utf-8")  # reported while it runs
        (root / "podman.json").write_text(json.dumps(asdict(self.isolation.podman)))
        proc = subprocess.Popen(
            [sys.executable, "-m", "brique.agent.wrapper", str(root)], env=WRAPPER_ENV, cwd=root,
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        assert proc.stdin is not None
        with proc.stdin:  # the job's environment (secrets included) goes through a pipe, never disk
            proc.stdin.write(json.dumps(job_env(launch, tuple(indices))).encode())
        (root / "started_at").write_text(datetime.now(UTC).isoformat())
        (root / "wrapper_pid").write_text(str(proc.pid))
        self._children.append(proc)

    def _plan(self, launch: Launch, gpus: tuple[int, ...]) -> JobPlan:
        iso = self.isolation
        if launch.image is None and iso.sandbox is Sandbox.NONE:
            engine = "none"
        elif launch.image is None or iso.containers is ContainerRuntime.BWRAP:
            engine = "bwrap"
        else:
            engine = "podman"
        ids = tenant_ids(launch.org_id) if engine != "none" else None
        plan = JobPlan(
            key=launch.key, engine=engine, uid=ids[0] if ids else None, gid=ids[1] if ids else None, gpus=gpus,
            memory_bytes=iso.share.memory_for(len(gpus)), cpus=iso.share.cpus_for(len(gpus)),
            network=wants_network(iso.network, launch), scratch=str(self._scratch_dir(launch.key)),
            image=launch.image, expose=iso.expose,
        )  # fmt: skip
        if launch.image is None:
            return plan
        image_id, digest = iso.podman.inspect(launch.image)
        rootfs = None
        if engine == "bwrap":
            rootfs = iso.root / "images" / image_id.removeprefix("sha256:")
            iso.podman.export_rootfs(image_id, rootfs)
        return JobPlan(**{**asdict(plan), "image_id": image_id, "image_digest": digest,
                          "rootfs": str(rootfs) if rootfs else None})  # fmt: skip

    def _scratch_dir(self, key: str) -> Path:
        return self.isolation.root / "scratch" / f"{self.node_id.replace('/', '_')}.{key}"

    @staticmethod
    def _scratch(work: Path, plan: JobPlan) -> None:
        work.mkdir(mode=0o700, exist_ok=True)
        if plan.uid is None:
            return  # the agent's own uid (not root): its namespaces guard the rest
        if plan.engine == "podman":  # the container's root is the tenant's mapped range
            os.chown(work, container_uid_base(plan.uid), container_uid_base(plan.uid))
        else:
            os.chown(work, plan.uid, plan.gid if plan.gid is not None else -1)

    @staticmethod
    def _refuse(root: Path, reason: str) -> None:
        (root / "reason").write_text(reason)
        (root / "started_at").write_text(datetime.now(UTC).isoformat())
        (root / "exit_code").write_text("125")
        (root / "wrapper_pid").write_text("0")

    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        root = self._dir(job_id, attempt)
        if not root.exists() or (root / "exit_code").exists() or (root / "stop_deadline").exists():
            return
        (root / "stop_deadline").write_text(str(time.time() + grace_s))
        self._signal(root, signal.SIGTERM)  # the wrapper passes it to the job's own processes

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
        # the scratch dir goes with the attempt (secrets a job wrote there included)
        shutil.rmtree(self._scratch_dir(f"{job_id}.{attempt}"), ignore_errors=True)

    def read_logs(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        path = self._dir(job_id, attempt) / "output.log"
        if not path.exists():
            return b""
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(limit)

    def _report(self, root: Path, job_id: str, attempt: int) -> RunReport:
        started = _read_time(root / "started_at")
        note = (root / "image").read_text() if (root / "image").exists() else ""
        code_file = root / "exit_code"
        if not code_file.exists():
            if _alive(int((root / "wrapper_pid").read_text())):
                self._enforce_deadline(root)
                return RunReport(job_id, attempt, RunState.RUNNING, started_at=started, message=note, image=note)
            return RunReport(
                job_id, attempt, RunState.LOST, started_at=started, message="its runner process died"
            )
        code = int(code_file.read_text())
        finished = datetime.fromtimestamp(code_file.stat().st_mtime, UTC)
        if (root / "stop_deadline").exists():
            state = RunState.STOPPED
        else:
            state = RunState.SUCCEEDED if code == 0 else RunState.FAILED
        reason = (root / "reason").read_text() if (root / "reason").exists() else ""
        return RunReport(job_id, attempt, state, exit_code=code, started_at=started, finished_at=finished,
                         message=reason, image=note)  # fmt: skip

    def _enforce_deadline(self, root: Path) -> None:
        deadline = root / "stop_deadline"
        if deadline.exists() and time.time() >= float(deadline.read_text()):
            self._signal(root, signal.SIGUSR1)  # the wrapper kills everything, container included

    @staticmethod
    def _signal(root: Path, sig: signal.Signals) -> None:
        for _ in range(50):  # the wrapper writes the group id once its signal handlers are in place
            if (root / "pgid").exists():
                break
            time.sleep(0.02)
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int((root / "wrapper_pid").read_text()), sig)
        if sig is signal.SIGUSR1:  # and, should the wrapper be gone, its process group directly
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.killpg(int((root / "pgid").read_text()), signal.SIGKILL)

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
