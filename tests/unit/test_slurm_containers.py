"""Jobs with an image on a Slurm site: through Pyxis's `srun --container-image`, or refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from brique.executors.base import ExecutorError, Launch
from brique.executors.slurm.config import SlurmConfig
from brique.executors.slurm.executor import SlurmExecutor
from brique.executors.slurm.script import render_script


def test_image_runs_as_a_pyxis_step_and_the_script_is_valid_shell(tmp_path: Path) -> None:
    script = render_script("job_1", 1, tmp_path, "python train.py", image="registry.eu/llm/train@sha256:ab")
    step = [line for line in script.splitlines() if "train.py" in line]
    assert step == ["srun --ntasks=1 --container-image=registry.eu/llm/train@sha256:ab --no-container-mount-home "
                    "--container-remap-root /bin/sh -c 'python train.py'"]  # fmt: skip
    assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0
    assert "--container-image" not in render_script("job_1", 1, tmp_path, "python train.py")


def test_a_site_without_pyxis_refuses_images_instead_of_running_on_the_host(tmp_path: Path) -> None:
    executor = SlurmExecutor(SlurmConfig(spool_dir=tmp_path))
    launch = Launch(
        "job_1", 1, "t", "org", "prj", "s", "standard", "true", {"s/r001/n01": (0,)}, image="alpine"
    )
    with pytest.raises(ExecutorError, match="runs no containers"):
        executor.submit(launch)
    assert not list(tmp_path.rglob("script*"))
