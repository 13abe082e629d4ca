"""Runs one attempt in its sandbox and records its exit code, surviving the agent's own death.

    python -m brique.agent.wrapper ATTEMPT_DIR   (the job's environment as JSON on stdin)

The agent starts this in a new session with a clean environment of its own; the job's
environment arrives on stdin, so secrets never touch disk, argv or the wrapper's environ
(where a tenant's LD_PRELOAD would run as the agent). The wrapper puts itself in the
attempt's cgroup, starts the engine's command (as the tenant's uid for bwrap), and:

    SIGTERM  -> the job's own processes get SIGTERM (not the sandbox's supervisors, which
                must outlive the job's grace period)
    SIGUSR1  -> everything is killed (the grace period is over)

It writes `exit_code` atomically, and `reason` when the kernel's OOM killer struck.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from brique.agent.cgroups import JobCgroup
from brique.agent.engines import Podman, Prepared, bwrap, env_file
from brique.agent.sandbox import JobPlan

CONTAINER_PREFIX = "brique-"


def main(attempt_dir: str) -> int:
    root = Path(attempt_dir)
    env = json.loads(sys.stdin.buffer.read() or b"{}")
    plan = JobPlan.load(root / "plan.json")
    state: dict[str, subprocess.Popen[bytes] | None] = {"child": None}
    pending: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        child = state["child"]
        if child is None:
            pending.append(signum)
        else:
            _deliver(plan, child, signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        group = JobCgroup.create(plan.key, plan.memory_bytes, plan.cpus) if plan.engine != "none" else None
        if group is not None:
            group.join(os.getpid())  # the job's processes inherit it
    except OSError as exc:  # never run a job without the limits it was promised
        _write(root / "reason", f"cannot set up the job's cgroup: {exc}")
        _write(root / "exit_code", "125")
        return 0
    code = _run(root, plan, env, state, pending, group is not None)
    if group is not None:
        if group.oom_kills():
            _write(
                root / "reason", f"killed by the kernel: out of memory (limit {_mib(plan.memory_bytes)} MiB)"
            )
        group.remove()
    _write(root / "exit_code", str(code))
    return 0


def _run(
    root: Path, plan: JobPlan, env: dict[str, str], state: dict, pending: list[int], protect: bool
) -> int:
    command = (root / "command").read_text(encoding="utf-8")
    with (root / "output.log").open("ab", buffering=0) as log:
        try:
            prepared = _prepare(root, plan, command, env)
        except Exception as exc:  # the sandbox cannot be built: the attempt fails, with the reason
            _write(root / "reason", f"cannot start the sandbox: {exc}")
            return 125
        child = _start(plan, prepared, log, env, Path(plan.scratch))
        if protect:  # in the job's cgroup, the OOM killer must pick the job, not its wrapper
            with contextlib.suppress(OSError):
                Path("/proc/self/oom_score_adj").write_text("-1000")
        state["child"] = child
        _write(root / "pgid", str(child.pid))
        for signum in pending:
            _deliver(plan, child, signum)
        return child.wait()


def _prepare(root: Path, plan: JobPlan, command: str, env: dict[str, str]) -> Prepared:
    if plan.engine == "bwrap":
        return bwrap(plan, command, env)
    if plan.engine == "podman":
        podman = Podman(**json.loads((root / "podman.json").read_text()))
        argv = podman.run_argv(plan, command, CONTAINER_PREFIX + plan.key.replace(".", "-"))
        return Prepared(argv, [], env_file(env), pipe_fd_slot=argv.index("ENVFILE"))
    return Prepared(["/bin/sh", "-c", command])


def _start(
    plan: JobPlan, prepared: Prepared, log: object, env: dict[str, str], work: Path
) -> subprocess.Popen[bytes]:
    argv, fds, read_end = list(prepared.argv), list(prepared.pass_fds), None
    if prepared.stdin_data is not None and prepared.pipe_fd_slot is not None:
        read_end, write_end = os.pipe()
        argv[prepared.pipe_fd_slot] = str(read_end) if plan.engine == "bwrap" else f"/dev/fd/{read_end}"
        fds.append(read_end)
    drop = plan.engine == "bwrap" and plan.uid is not None
    child = subprocess.Popen(
        argv, cwd=work if plan.engine == "none" else "/", env=env if plan.engine == "none" else _engine_env(),
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, pass_fds=fds,
        user=plan.uid if drop else None, group=plan.gid if drop else None, extra_groups=[] if drop else None,
    )  # type: ignore[call-overload]  # fmt: skip
    if read_end is not None:
        os.close(read_end)
        with os.fdopen(write_end, "wb") as pipe, contextlib.suppress(BrokenPipeError):
            pipe.write(prepared.stdin_data or b"")
    for fd in prepared.pass_fds:
        os.close(fd)
    return child


def _engine_env() -> dict[str, str]:
    """bwrap's and podman's own environment: nothing of the job's (it goes through the pipe)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _deliver(plan: JobPlan, child: subprocess.Popen[bytes], signum: int) -> None:
    kill = signum == signal.SIGUSR1
    if plan.engine == "podman":
        name = CONTAINER_PREFIX + plan.key.replace(".", "-")
        subprocess.run(["podman", "kill", "--signal", "KILL" if kill else "TERM", name],
                       capture_output=True, check=False, timeout=30)  # fmt: skip
    if kill or plan.engine == "none":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL if kill else signal.SIGTERM)
    elif plan.engine == "bwrap":
        for pid in _group_members(child.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)


def _group_members(pgid: int) -> list[int]:
    """Processes of the job's group other than bubblewrap's own (they must outlive the grace period)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if int(rest[2]) == pgid and comm != "bwrap":
            members.append(int(entry.name))
    return members


def _mib(n: int | None) -> int:
    return (n or 0) >> 20


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
