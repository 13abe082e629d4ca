"""The compiled core (`make core`) decides exactly as its Python sources do.

A slice of Philly is replayed under every policy by `benchmarks/simulate_traces.py --digest` twice: on
the core as built (compiled in CI, which `tests/conftest.py` insists on), and on a copy of the sources
without any extension module. Every job record, stop signal and the lost work must be the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brique import native

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "benchmarks" / "simulate_traces.py"


def _replay(env: dict[str, str], *args: str) -> tuple[str, list[str], str]:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--trace", "philly", "--limit", "2000", "--digest", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    core = re.search(r"^core: (\w+)", out, re.M)
    assert core is not None, out
    return core.group(1), re.findall(r"^digest \(.*", out, re.M), out


@pytest.mark.parametrize("checkpoint", ["none", "grace"])
def test_compiled_and_interpreted_cores_decide_the_same(tmp_path: Path, checkpoint: str) -> None:
    if native.status().state != "compiled":
        pytest.skip("the core is not compiled here (make core); CI compiles it")
    shutil.copytree(ROOT / "src" / "brique", tmp_path / "brique", ignore=shutil.ignore_patterns("*.so", ".core-built"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    compiled, want, out = _replay(env, "--checkpoint", checkpoint)
    interpreted, got, _ = _replay({**env, "PYTHONPATH": str(tmp_path)}, "--checkpoint", checkpoint)
    assert (compiled, interpreted) == ("compiled", "interpreted")
    assert len(want) == 3 and got == want
    stops = [int(row.split("|")[7].replace(",", "")) for row in out.splitlines() if row.startswith("| brique |")]
    assert stops and stops[0] > 0  # the slice exercises preemption, not only placement
