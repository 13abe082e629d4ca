"""The spool dir: one directory per attempt, on a filesystem the compute nodes share.

    <spool>/<job_id>.<attempt>/
        job.sh      the generated batch script (0700; holds the command, never env values)
        env         `export K='v'` lines (0600), sourced then deleted by job.sh when it starts
        output.log  the job's stdout+stderr (sbatch --output); kept after `forget`
        slurm_id    Slurm's job id, written once sbatch accepted the job
        started     epoch seconds, written by job.sh when the job starts
        exit        `<rc> <epoch>`, written by job.sh when the command ends
        stop        {"deadline": epoch, "killed": bool} once Brique asked the job to stop

It is the executor's durable memory: a restarted control plane finds every attempt it
submitted here, and the exit code even when Slurm keeps no accounting.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from brique.executors.base import ExecutorError

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOG_NAME = "output.log"


def _write(path: Path, text: str, mode: int) -> None:
    """Atomically replace `path`; the file never exists with wider permissions than `mode`."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _epoch(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        return None


def env_file_text(env: Mapping[str, str]) -> str:
    bad = [k for k in env if not _ENV_NAME.match(k)]
    if bad:
        raise ExecutorError(f"invalid environment variable names: {', '.join(sorted(bad))}")
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


@dataclass(frozen=True, slots=True)
class StopRequest:
    deadline: float  # epoch seconds after which the job is killed
    killed: bool = False


@dataclass(frozen=True, slots=True)
class ExitRecord:
    code: int
    at: datetime | None


class AttemptDir:
    def __init__(self, root: Path, key: str) -> None:
        if not _KEY.match(key):
            raise ExecutorError(f"attempt key {key!r} is not usable as a directory name")
        self.key = key
        self.path = root / key

    @property
    def script(self) -> Path:
        return self.path / "job.sh"

    @property
    def env_file(self) -> Path:
        return self.path / "env"

    @property
    def log(self) -> Path:
        return self.path / LOG_NAME

    def prepare(self, script: str, env_text: str) -> None:
        """Write the script and the env file (made by `env_file_text`)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(self.env_file, env_text, 0o600)
        _write(self.script, script, 0o700)

    def slurm_id(self) -> int | None:
        text = _read(self.path / "slurm_id")
        return int(text) if text and text.strip().isdigit() else None

    def record_slurm_id(self, slurm_id: int) -> None:
        _write(self.path / "slurm_id", f"{slurm_id}\n", 0o600)

    def started_at(self) -> datetime | None:
        text = _read(self.path / "started")
        return _epoch(text.strip()) if text else None

    def exit_record(self) -> ExitRecord | None:
        parts = (_read(self.path / "exit") or "").split()
        if not parts or not parts[0].lstrip("-").isdigit():
            return None
        return ExitRecord(int(parts[0]), _epoch(parts[1]) if len(parts) > 1 else None)

    def stop_request(self) -> StopRequest | None:
        text = _read(self.path / "stop")
        if not text:
            return None
        data = json.loads(text)
        return StopRequest(float(data["deadline"]), bool(data.get("killed", False)))

    def record_stop(self, request: StopRequest) -> None:
        _write(
            self.path / "stop", json.dumps({"deadline": request.deadline, "killed": request.killed}), 0o600
        )

    def read_log(self, offset: int, limit: int) -> bytes:
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""

    def forget(self) -> None:
        """Drop the bookkeeping; keep the log for `read_logs` (the operator prunes the spool)."""
        for child in self.path.glob("*"):
            if child.name == LOG_NAME:
                continue
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def attempt(self, key: str) -> AttemptDir:
        return AttemptDir(self.root, key)

    def submitted(self) -> Iterator[AttemptDir]:
        """Every attempt that sbatch accepted and that nobody has forgotten yet."""
        if not self.root.is_dir():
            return
        for child in sorted(self.root.iterdir()):
            if child.is_dir() and (child / "slurm_id").exists():
                yield AttemptDir(self.root, child.name)
