"""A thin, typed wrapper over Slurm's commands (`sbatch`, `squeue`, `scancel`, `sacct`).

Every call runs with a timeout and a minimal environment (PATH, SLURM_CONF, a fixed time
format): the control plane's own environment, which may hold its secrets, never reaches
Slurm. Failures come back as `SlurmError`s:

    ExecutorError (executors/base.py)
    └── SlurmError
        ├── SlurmUnavailable     binary missing, timed out, controller unreachable
        └── SlurmCommandFailed   the command ran and said no (non-zero exit)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from brique.executors.base import ExecutorError

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_SQUEUE_FORMAT = "%i|%T|%N|%S|%e|%j"  # name last: it is the only field that may hold a '|'
_SACCT_FIELDS = "JobIDRaw,State,ExitCode,Start,End,JobName"
_ACCOUNTING_DISABLED = "accounting storage is disabled"


class SlurmError(ExecutorError):
    """A Slurm command failed; the message is safe to show (it never holds job env values)."""


class SlurmUnavailable(SlurmError):
    """Slurm could not be asked: binary missing, timeout, controller down."""


class SlurmCommandFailed(SlurmError):
    def __init__(self, tool: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{tool} failed (exit {returncode}): {stderr.strip()[:500]}")
        self.tool = tool
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One job as `squeue` shows it (finished jobs stay visible for MinJobAge seconds)."""

    slurm_id: int
    name: str
    state: str
    nodes: str
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class AcctEntry:
    """One job as `sacct` (slurmdbd accounting) remembers it."""

    slurm_id: int
    name: str
    state: str
    exit_code: int | None
    started_at: datetime | None
    ended_at: datetime | None


def parse_time(value: str) -> datetime | None:
    """Slurm's `2026-01-31T12:00:00` (cluster-local time) -> aware UTC; None for N/A, Unknown…"""
    try:
        return datetime.fromisoformat(value.strip()).astimezone(UTC)
    except ValueError:
        return None


def parse_exit_code(value: str) -> int | None:
    """sacct's `rc:signal` -> the shell's view: rc, or 128+signal when a signal killed it."""
    rc, _, sig = value.partition(":")
    if not rc.isdigit():
        return None
    return 128 + int(sig) if sig.isdigit() and int(sig) else int(rc)


class SlurmCli:
    def __init__(
        self, *, slurm_conf: Path | None = None, bin_dir: Path | None = None, timeout_s: float = 30.0
    ) -> None:
        self.slurm_conf = slurm_conf
        self.bin_dir = bin_dir
        self.timeout_s = timeout_s
        self._accounting: bool | None = None

    def _env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "LC_ALL": "C", "SLURM_TIME_FORMAT": "standard"}
        if self.slurm_conf is not None:
            env["SLURM_CONF"] = str(self.slurm_conf)
        return env

    def _exe(self, tool: str) -> str:
        return str(self.bin_dir / tool) if self.bin_dir else tool

    def run(self, tool: str, *args: str) -> str:
        """Run one Slurm command; its stdout, or a typed error."""
        try:
            done = subprocess.run(
                [self._exe(tool), *args],
                capture_output=True, text=True, timeout=self.timeout_s, env=self._env(), check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise SlurmUnavailable(f"{tool} not found (is Slurm's client installed?)") from exc
        except subprocess.TimeoutExpired as exc:
            raise SlurmUnavailable(f"{tool} timed out after {self.timeout_s:g}s") from exc
        if done.returncode != 0:
            raise SlurmCommandFailed(tool, done.returncode, done.stderr or done.stdout)
        return done.stdout

    def sbatch(self, options: Sequence[str], script: Path) -> int:
        out = self.run("sbatch", "--parsable", *options, str(script))
        job_id = out.strip().split(";", 1)[0]  # --parsable prints `id` or `id;cluster`
        if not job_id.isdigit():
            raise SlurmError(f"sbatch printed no job id: {out.strip()[:200]!r}")
        return int(job_id)

    def squeue(self, *, name: str | None = None) -> list[QueueEntry]:
        """The submitting user's jobs in every state (optionally one job name)."""
        args = ["--me", "--states=all", "--noheader", f"--format={_SQUEUE_FORMAT}"]
        if name is not None:
            args.append(f"--name={name}")
        return [e for line in self.run("squeue", *args).splitlines() if (e := _queue_entry(line))]

    def scancel(self, slurm_id: int, *, signal: str | None = None) -> None:
        """Cancel the job, or with `signal` send it to every process of the job (batch shell included)."""
        args = ["--full", f"--signal={signal}"] if signal else []
        try:
            self.run("scancel", *args, str(slurm_id))
        except SlurmCommandFailed as exc:
            if "already completing or completed" not in exc.stderr and "Invalid job id" not in exc.stderr:
                raise

    def sacct(self, *, ids: Sequence[int] = (), names: Sequence[str] = ()) -> list[AcctEntry] | None:
        """Accounting records for these jobs; None when the cluster has no accounting (no slurmdbd)."""
        if self._accounting is False or not (ids or names):
            return None if self._accounting is False else []
        args = ["--noheader", "--allocations", "--parsable2", f"--format={_SACCT_FIELDS}"]
        args += [f"--jobs={','.join(map(str, ids))}"] if ids else ["--starttime=now-30days"]
        args += [f"--name={','.join(names)}"] if names else []
        try:
            out = self.run("sacct", *args)
        except SlurmCommandFailed as exc:
            if _ACCOUNTING_DISABLED in exc.stderr.lower():
                self._accounting = False
                return None
            raise
        self._accounting = True
        return [e for line in out.splitlines() if (e := _acct_entry(line))]


def _queue_entry(line: str) -> QueueEntry | None:
    parts = line.split("|", 5)
    if len(parts) != 6 or not parts[0].isdigit():
        return None
    slurm_id, state, nodes, start, end, name = parts
    return QueueEntry(int(slurm_id), name, state.strip(), nodes, parse_time(start), parse_time(end))


def _acct_entry(line: str) -> AcctEntry | None:
    parts = line.split("|", 5)
    if len(parts) != 6 or not parts[0].isdigit():
        return None
    slurm_id, state, exit_code, start, end, name = parts
    return AcctEntry(
        int(slurm_id),
        name,
        state.split(" ", 1)[0],
        parse_exit_code(exit_code),
        parse_time(start),
        parse_time(end),
    )
