"""`brique.native.status`: a compiled core is used only when every extension matches its source."""

from __future__ import annotations

import hashlib
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from brique.native import status

EXT = EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "brique"
    (pkg / "scheduler").mkdir(parents=True)
    for name in ("scheduler/cycle.py", "scheduler/queue.py"):
        (pkg / name).write_text(f"# {name}\n")
    return pkg


def _build(pkg: Path, *names: str) -> None:
    """What scripts/compile_core.py leaves: an extension per source and a stamp of their hashes."""
    stamp = {}
    for name in names:
        (pkg / name).with_suffix("").with_name(Path(name).stem + EXT).write_bytes(b"\x7fELF")
        stamp[f"brique/{name}"] = hashlib.sha256((pkg / name).read_bytes()).hexdigest()
    (pkg / ".core-built").write_text(json.dumps(stamp))


def test_no_extension_is_interpreted(tmp_path: Path) -> None:
    got = status(_package(tmp_path))
    assert (got.state, got.modules, got.stale) == ("interpreted", 0, ())
    assert "make core" in got.describe()


def test_a_fresh_build_is_compiled(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    got = status(pkg)
    assert (got.state, got.modules, got.stale) == ("compiled", 2, ())


def test_an_edited_source_makes_it_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    (pkg / "scheduler/queue.py").write_text("# edited\n")
    got = status(pkg)
    assert (got.state, got.stale) == ("stale", ("brique/scheduler/queue.py",))
    assert "brique/scheduler/queue.py" in got.describe() and "make core" in got.describe()


def test_an_extension_without_a_stamp_or_missing_from_it_is_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py")
    (pkg / "scheduler" / f"queue{EXT}").write_bytes(b"\x7fELF")  # left by an older build
    assert status(pkg).stale == ("brique/scheduler/queue.py",)
    (pkg / ".core-built").unlink()
    assert status(pkg).state == "stale"


def test_a_removed_extension_is_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _build(pkg, "scheduler/cycle.py", "scheduler/queue.py")
    (pkg / "scheduler" / f"cycle{EXT}").unlink()
    assert status(pkg).stale == ("brique/scheduler/cycle.py",)
