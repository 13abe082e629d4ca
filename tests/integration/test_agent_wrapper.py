"""The attempt wrapper on its own: the job's environment arrives on a pipe and is all the job gets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from brique.agent.sandbox import JobPlan


def test_sandbox_none_still_gives_the_job_only_its_own_environment(tmp_path: Path) -> None:
    attempt = tmp_path / "job_w.1"
    (attempt / "work").mkdir(parents=True)
    JobPlan(key="job_w.1", engine="none", uid=None, gid=None, gpus=(0,), memory_bytes=None, cpus=None,
            network=True, scratch=str(attempt / "work")).save(attempt / "plan.json")  # fmt: skip
    (attempt / "command").write_text("env; pwd")
    wrapper = subprocess.Popen([sys.executable, "-m", "brique.agent.wrapper", str(attempt)], stdin=subprocess.PIPE,
                               env={**os.environ, "AGENT_ONLY": "leak"})  # fmt: skip
    wrapper.communicate(json.dumps({"JOB_VAR": "x", "PATH": "/usr/bin:/bin"}).encode(), timeout=60)
    log = (attempt / "output.log").read_text()
    assert (attempt / "exit_code").read_text() == "0"
    assert "JOB_VAR=x" in log and "AGENT_ONLY" not in log and str(attempt / "work") in log
