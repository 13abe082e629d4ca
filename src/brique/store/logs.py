"""Archived job logs: one file per attempt under `$BRIQUE_HOME/logs`, kept after executors forget."""

from __future__ import annotations

import os
import re
from pathlib import Path

SAFE = re.compile(r"^[a-z]+_[0-9a-z]+$")


class LogArchive:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, job_id: str, attempt: int) -> Path:
        if not SAFE.match(job_id):
            raise ValueError(f"unexpected job id {job_id!r}")
        return self.root / job_id[-2:] / f"{job_id}.{attempt}.log"

    def write(self, job_id: str, attempt: int, data: bytes) -> None:
        path = self._path(job_id, attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def read(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes | None:
        """The archived bytes from `offset`, or None when nothing is archived for that attempt."""
        path = self._path(job_id, attempt)
        if not path.exists():
            return None
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(limit)

    def write_at(self, job_id: str, attempt: int, offset: int, data: bytes) -> None:
        """Write a chunk at its offset (re-sent chunks overwrite the same bytes: idempotent)."""
        path = self._path(job_id, attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("r+b" if path.exists() else "wb") as fh:
            fh.seek(offset)
            fh.write(data)
