"""Compile the pure scheduler core and the simulator's engine with mypyc (`make core`).

The same Python sources, type-checked by mypy and compiled to C extension modules placed next to
them (`src/brique/**/*.so`): the interpreter imports an extension module before a `.py` of the same
name. Decisions are identical (the simulator's `--digest` is the same); only the speed changes.

A stamp (`src/brique/.core-built`) records each compiled source (SHA-256, mtime, size) and its
extension: on `import brique`, `brique.native.guard()` imports the whole set from its sources when
any of them changed since (an old extension never runs edited code), and `status()` says so.

Usage: python scripts/compile_core.py [--clean | --list]
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
STAMP = SRC / "brique" / ".core-built"
# What runs in every scheduling cycle and every simulated instant. Nothing here may be monkeypatched
# (calls between compiled modules are bound at build time) or subclassed outside the set.
MODULES = (
    "brique/scheduler/*.py",
    "brique/simulator/engine.py",
    "brique/simulator/events.py",
    "brique/simulator/pending.py",
    "brique/simulator/timeline.py",
    "brique/simulator/checkpoint.py",
    "brique/simulator/predict.py",
    "brique/domain/jobs.py",
)


def sources() -> list[Path]:
    return sorted({p for pattern in MODULES for p in SRC.glob(pattern)})


def built() -> list[Path]:
    """Every compiled artefact under src/ (the extensions and mypyc's shared runtime library)."""
    return sorted(p for p in SRC.rglob("*.so") if p.is_file())


def clean() -> None:
    for p in built():
        p.unlink()
    STAMP.unlink(missing_ok=True)


def missing_toolchain() -> str | None:
    """What the build lacks (a C compiler, Python's headers, mypy), found before a minute of type-checking."""
    cc = os.environ.get("CC", "cc").split()[0]
    if shutil.which(cc) is None and shutil.which("gcc") is None:
        return "no C compiler (gcc)"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "no Python headers (python3-dev)"
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "no mypy (pip install -e '.[dev]')"
    return None


def compile_all() -> None:
    from mypyc.build import mypycify  # build-time only (the `dev` extra): importing it costs ~1 s
    from setuptools import setup

    files = sources()
    rel = [str(p.relative_to(SRC)) for p in files]
    clean()  # no extension of a module that left the set may shadow its source
    with tempfile.TemporaryDirectory(prefix="brique-core-") as tmp:
        cwd = Path.cwd()
        os.chdir(SRC)  # module names come from the paths (brique/...); no pyproject.toml here for setuptools to read
        try:
            setup(
                name="brique-core",
                ext_modules=mypycify(["--ignore-missing-imports", "--cache-dir=/dev/null", *rel], opt_level="3", target_dir=f"{tmp}/c"),
                script_args=["-q", "build_ext", "--inplace", "--build-temp", tmp, "--build-lib", tmp],
            )
        finally:
            os.chdir(cwd)
    sys.path.insert(0, str(SRC))  # the stamp's format lives with its reader
    from brique._core_guard import write_stamp

    write_stamp([str(p.relative_to(SRC)) for p in files], EXTENSION_SUFFIXES[0])  # build_ext's names here
    print(f"brique: compiled {len(files)} core modules with mypyc ({len(built())} extensions)")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--clean"]:
        clean()
        return 0
    if argv[1:] == ["--list"]:  # the Makefile's prerequisites
        print(" ".join(str(p.relative_to(ROOT)) for p in sources()))
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    lacking = missing_toolchain()
    if lacking:
        print(f"brique: the core cannot be compiled here: {lacking}", file=sys.stderr)
        return 1
    compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
