"""Processes seen through Linux's /proc: a process's children, whether it is gone, and the CPU a
process tree used (for benchmarks: steadier than wall time on a shared machine)."""

from __future__ import annotations

import os
from pathlib import Path


def stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command name: [0] state, [1] parent pid, [11] utime, [12] stime."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _all() -> list[tuple[int, list[str]]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((int(entry.name), stat(entry.name)))
            except OSError:  # it ended meanwhile
                continue
    return out


def children(pid: int) -> list[int]:
    """Live child processes of `pid`."""
    return [p for p, fields in _all() if int(fields[1]) == pid and fields[0] != "Z"]


def gone(pid: int) -> bool:
    """Ended (reaped, or a zombie waiting to be)."""
    try:
        return stat(pid)[0] == "Z"
    except FileNotFoundError:
        return True


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and its children."""
    ticks = sum(int(f[11]) + int(f[12]) for p, f in _all() if p == root or int(f[1]) == root)
    return ticks / os.sysconf("SC_CLK_TCK")
