"""Runs one attempt's command and records its exit code, surviving the agent's own death.

    python -m brique.agent.wrapper ATTEMPT_DIR

The agent starts this in a new session; it starts `/bin/sh -c "$(cat command)"` in a new
process group (the group the agent signals), forwards SIGTERM to it, waits, and writes
`exit_code` atomically. The environment comes from the agent (secrets never touch disk).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def main(attempt_dir: str) -> int:
    root = Path(attempt_dir)
    command = (root / "command").read_text(encoding="utf-8")
    with (root / "output.log").open("ab", buffering=0) as log:
        child = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=root / "work", stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _write(root / "pgid", str(child.pid))

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        code = child.wait()
    _write(root / "exit_code", str(code))
    return 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
