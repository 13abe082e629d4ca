"""A private, throwaway Slurm cluster for the test suite (Debian's slurmctld, slurmd, munge).

Everything lives in one temp dir: munge key, socket and logs; slurm.conf and gres.conf;
state, spool and logs. The daemons run in the foreground as children of the test process
(so they are ours to stop, by pid), on 127.0.0.1 with free ports:

- munged with its own key and socket (`AuthInfo=socket=…`), so a system munged, if one
  runs, is neither used nor disturbed;
- one slurmctld, no accounting (`accounting_storage/none`; no slurmdbd);
- one slurmd per node on this one machine (`slurmd -N <node>`, a distinct `Port=` each);
- fake GPUs: gres.conf `File=` entries are symlinks to /dev/null (slurmd wants character
  devices; a plain file is rejected and then no CUDA_VISIBLE_DEVICES is set). Slurm binds
  and counts them like real ones and sets CUDA_VISIBLE_DEVICES for each job on each node.

Runs as root (SlurmUser=root), as CI does. Short timeouts keep the suite fast.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sacct", "scontrol", "sinfo")
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f"{d}/{name}" for d in SBIN_DIRS if os.access(f"{d}/{name}", os.X_OK)), None)


def missing_binaries() -> list[str]:
    return [name for name in (*DAEMONS, *CLIENTS) if find_binary(name) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """`nodes` Slurm node names, each with `gpus_per_node` fake GPUs."""

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        gpus_per_node: int = 4,
        cpus_per_node: int = 8,
        min_job_age_s: int = 300,
    ) -> None:
        self.min_job_age_s = min_job_age_s
        self.nodes = tuple(nodes)
        self.gpus_per_node = gpus_per_node
        self.cpus_per_node = cpus_per_node
        self.root = Path(tempfile.mkdtemp(prefix="brique-slurm-"))
        os.chmod(self.root, 0o755)
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.hostname = socket.gethostname().split(".")[0]
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm's client commands aimed at this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf), "SLURM_TIME_FORMAT": "standard"}

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start_munge()
            self._write_config()
            self._spawn(
                "slurmctld", [find_binary("slurmctld") or "slurmctld", "-D", "-i", "-f", str(self.conf)]
            )
            for node in self.nodes:
                (self.root / "spool" / node).mkdir(parents=True)
                cmd = [find_binary("slurmd") or "slurmd", "-D", "-f", str(self.conf), "-N", node]
                self._spawn(f"slurmd-{node}", cmd)
            self._wait_nodes_idle()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """End every job, stop our daemons (by the pids we started) newest first, drop the temp dir."""
        self._drain()
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self._procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def _drain(self) -> None:
        """Kill and cancel all jobs while slurmctld still runs, so that no slurmstepd outlives it."""
        if not self._procs or any(p.poll() is not None for _, p in self._procs):
            return
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.run("scancel", "--full", "--signal=KILL", f"--user={user}", check=False)
        self.run("scancel", f"--user={user}", check=False)
        active = "--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED"
        with contextlib.suppress(RuntimeError):  # stop the daemons anyway
            _wait_for(lambda: not self.run("squeue", "--noheader", active, check=False).strip(), 20, "", str)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = (self.root / "log" / f"{name}.out").open("ab")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._procs.append((name, proc))

    # -- munge --------------------------------------------------------------------------

    def _start_munge(self) -> None:
        keydir, sockdir = self.root / "munge-key", self.munge_socket.parent
        keydir.mkdir(mode=0o700)
        sockdir.mkdir(mode=0o755)  # the socket must be reachable by every user
        (self.root / "log").mkdir()
        key = keydir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        cmd = [
            find_binary("munged") or "munged", "--foreground", "--force",
            f"--key-file={key}", f"--socket={self.munge_socket}",
            f"--pid-file={keydir / 'munged.pid'}", f"--seed-file={keydir / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
        ]  # fmt: skip
        self._spawn("munged", cmd)
        _wait_for(self.munge_socket.exists, 10, "munged did not create its socket", self._logs)

    # -- configuration ------------------------------------------------------------------

    def _write_config(self) -> None:
        etc, gpu = self.root / "etc", self.root / "gpu"
        for d in (etc, gpu, self.root / "state", self.root / "spool"):
            d.mkdir()
        for i in range(self.gpus_per_node):
            (gpu / f"nvidia{i}").symlink_to("/dev/null")
        self.conf.write_text(self._slurm_conf())
        last = self.gpus_per_node - 1
        (etc / "gres.conf").write_text(f"Name=gpu File={gpu}/nvidia[0-{last}]\n")

    def _slurm_conf(self) -> str:
        r = self.root
        lines = [
            "ClusterName=brique-test",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={r}/state",
            f"SlurmdSpoolDir={r}/spool/%n",
            f"SlurmctldPidFile={r}/slurmctld.pid",
            f"SlurmdPidFile={r}/slurmd-%n.pid",
            f"SlurmctldLogFile={r}/log/slurmctld.log",
            f"SlurmdLogFile={r}/log/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "GresTypes=gpu",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SlurmdParameters=config_overrides",  # nodes claim more CPUs than this machine has
            "ReturnToService=2",
            "KillWait=2",
            "MessageTimeout=5",
            "SlurmctldTimeout=10",
            "SlurmdTimeout=30",
            "SchedulerParameters=sched_interval=1",
            f"MinJobAge={self.min_job_age_s}",  # finished jobs stay in squeue this long
            *self._node_lines(),
            "PartitionName=brique Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        ]
        return "\n".join(lines) + "\n"

    def _node_lines(self) -> list[str]:
        return [
            f"NodeName={node} NodeHostname={self.hostname} NodeAddr=127.0.0.1 Port={free_port()} "
            f"CPUs={self.cpus_per_node} RealMemory=1024 Gres=gpu:{self.gpus_per_node} State=UNKNOWN"
            for node in self.nodes
        ]

    # -- readiness and helpers ----------------------------------------------------------

    def _wait_nodes_idle(self) -> None:
        def idle() -> bool:
            self._check_alive()
            out = self.run("sinfo", "--noheader", "--Node", "--format=%N %T", check=False)
            states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
            return all(states.get(n) == "idle" for n in self.nodes)

        _wait_for(idle, 60, "Slurm nodes did not become idle", self._logs)

    def _check_alive(self) -> None:
        dead = [name for name, proc in self._procs if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"Slurm test daemons exited: {dead}\n{self._logs()}")

    def run(self, tool: str, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [find_binary(tool) or tool, *args], env=self.env, capture_output=True, text=True, timeout=30
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def _logs(self) -> str:
        logs = sorted((self.root / "log").glob("*")) if (self.root / "log").exists() else []
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} within {timeout_s:g}s\n{logs()}")
