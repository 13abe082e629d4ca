"""A memory, CPU and PID-count cgroup per attempt: cgroup v2 where the memory controller is there, else v1.

The wrapper creates it, moves itself in (its children inherit it), and after the job
asks whether the kernel's OOM killer struck inside it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
PIDS_MAX = 16_384  # per attempt: a fork bomb stays inside its own job


class JobCgroup:
    def __init__(self, dirs: dict[str, Path], v2: bool) -> None:
        self.dirs = dirs  # controller ("memory", "cpu", or "" for v2) -> directory
        self.v2 = v2

    @classmethod
    def create(cls, key: str, memory_bytes: int | None, cpus: float | None) -> JobCgroup | None:
        """None where no writable cgroup hierarchy exists (not root, no controller)."""
        if os.geteuid() != 0:
            return None
        if "memory" in _read(ROOT / "cgroup.controllers").split():
            return cls._v2(ROOT / "brique" / key, memory_bytes, cpus)
        return cls._v1(key, memory_bytes, cpus)

    @classmethod
    def _v2(cls, group: Path, memory_bytes: int | None, cpus: float | None) -> JobCgroup:
        _enable_v2(group.parent)
        group.mkdir(parents=True, exist_ok=True)
        if memory_bytes:
            _write(group / "memory.max", str(memory_bytes))
            _write(group / "memory.swap.max", "0")
        if cpus:
            _write(group / "cpu.max", f"{int(cpus * PERIOD_US)} {PERIOD_US}")
        _write(group / "pids.max", str(PIDS_MAX))
        return cls({"": group}, v2=True)

    @classmethod
    def _v1(cls, key: str, memory_bytes: int | None, cpus: float | None) -> JobCgroup | None:
        dirs = {
            ctl: ROOT / ctl / "brique" / key
            for ctl in ("memory", "cpu", "pids")
            if (ROOT / ctl / "tasks").exists()
        }
        if not dirs:
            return None
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        if memory_bytes and "memory" in dirs:
            _write(dirs["memory"] / "memory.limit_in_bytes", str(memory_bytes))
            _write(dirs["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
        if cpus and "cpu" in dirs:
            _write(dirs["cpu"] / "cpu.cfs_period_us", str(PERIOD_US))
            _write(dirs["cpu"] / "cpu.cfs_quota_us", str(int(cpus * PERIOD_US)))
        if "pids" in dirs:
            _write(dirs["pids"] / "pids.max", str(PIDS_MAX))
        return cls(dirs, v2=False)

    def join(self, pid: int) -> None:
        for d in self.dirs.values():
            (d / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        if self.v2:
            events = _read(self.dirs[""] / "memory.events")
        else:
            events = _read(self.dirs.get("memory", ROOT / "none") / "memory.oom_control")
        for line in events.splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        """Leave the group (back to the root one) and delete it; the job's processes are gone."""
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                (d.parent.parent / "cgroup.procs").write_text(str(os.getpid()))
            for _ in range(100):  # the PID namespace's last processes are reaped asynchronously
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _enable_v2(parent: Path) -> None:
    parent.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):
        _write(ROOT / "cgroup.subtree_control", "+memory +cpu")
        _write(parent / "cgroup.subtree_control", "+memory +cpu")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # e.g. memsw without swap accounting
        path.write_text(value)
