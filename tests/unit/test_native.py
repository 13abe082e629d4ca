"""The compiled core is used only when every extension matches its source (`brique.native`,
`brique._core_guard`): otherwise the sources run, and the status says so."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from brique._core_guard import SourcesFirst, guard, write_stamp
from brique.native import status

EXT = EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "brique"
    (pkg / "scheduler").mkdir(parents=True)
    for name in ("scheduler/__init__.py", "scheduler/cycle.py", "scheduler/queue.py"):
        (pkg / name).write_text(f"WHERE = {name!r}\n")
    return pkg


def _build(pkg: Path, *names: str) -> None:
    """What scripts/compile_core.py leaves: an extension per source and a stamp of them."""
    for name in names:
        (pkg / (name[: -len(".py")] + EXT)).write_bytes(b"\x7fELF")
    write_stamp([f"brique/{name}" for name in names], EXT, str(pkg))


def test_no_extension_is_interpreted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    got = status(pkg)
    assert (got.state, got.modules, got.stale) == ("interpreted", 0, ())
    assert "make core" in got.describe()
    assert guard(str(pkg)) is False


def test_a_fresh_build_is_compiled_and_trusted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    got = status(pkg)
    assert (got.state, got.modules, got.stale) == ("compiled", 2, ())
    os.utime(pkg / "scheduler/cycle.py", ns=(1, 1))  # a checkout moves mtimes, not content
    assert status(pkg).state == "compiled"
    assert guard(str(pkg)) is False


def test_an_edited_source_makes_it_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    (pkg / "scheduler/queue.py").write_text("# edited\n")
    got = status(pkg)
    assert (got.state, got.stale) == ("stale", ("brique/scheduler/queue.py",))
    assert "brique/scheduler/queue.py" in got.describe() and "make core" in got.describe()


def test_extensions_missing_or_unstamped_are_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    (pkg / "scheduler" / f"cycle{EXT}").unlink()
    assert status(pkg).stale == ("brique/scheduler/cycle.py",)
    pkg2 = _package(tmp_path / "b")
    _build(pkg2, "scheduler/cycle.py")
    (pkg2 / "scheduler" / f"queue{EXT}").write_bytes(b"\x7fELF")  # left by an older build
    assert status(pkg2).stale == ("brique/scheduler/queue.py",)


def test_a_stale_core_is_imported_from_its_sources(tmp_path: Path) -> None:
    """In a fresh interpreter: the guard puts the whole compiled set's sources ahead of the extensions
    (here fake ones, which would fail to load), the package's `__init__` included."""
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/__init__.py", "scheduler/cycle.py", "scheduler/queue.py")
    (pkg / "scheduler/cycle.py").write_text("WHERE = 'edited'\n")
    code = (
        "import sys; from brique._core_guard import guard;"
        f"print(guard({str(pkg)!r}));"
        f"sys.path.insert(0, {str(tmp_path)!r}); sys.modules.pop('brique', None);"
        "import brique.scheduler.cycle as c, brique.scheduler.queue as q;"
        "print(c.WHERE, q.WHERE, c.__file__.endswith('.py'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "edited", "scheduler/queue.py", "True"]


def test_extensions_without_a_stamp_are_never_trusted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py")
    (pkg / ".core-built").unlink()
    before = list(sys.meta_path)
    try:
        assert guard(str(pkg)) is True
        finder = sys.meta_path[0]
        assert isinstance(finder, SourcesFirst) and set(finder.files) == {"brique.scheduler.cycle"}
    finally:
        sys.meta_path[:] = before


def test_compiled_domain_types_behave_as_dataclasses() -> None:
    """`Job` and `RunningJob` are compiled with the core (CI): values, hashing, `replace`, freezing, pickling
    and copying work as for the interpreted frozen dataclasses."""
    import copy
    import dataclasses
    import pickle

    import pytest

    from brique.domain.jobs import Job, RunningJob, Tier

    job = Job("j1", "t", 2, tier=Tier.PRIORITY, estimated_runtime_s=50.0, reservation="r1")
    run = RunningJob(job, ("g1", "g2"), 3.0, stopping_at=9.0, restarts=1)
    assert job == Job("j1", "t", 2, tier=Tier.PRIORITY, estimated_runtime_s=50.0, reservation="r1")
    assert hash(job) == hash(dataclasses.replace(job)) and {job: 1}[dataclasses.replace(job)] == 1
    assert dataclasses.replace(job, reservation=None).reservation is None
    for value in (job, run):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value and copy.copy(value) == value
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.gpus = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="at least 1 GPU"):
        Job("j2", "t", 0)
