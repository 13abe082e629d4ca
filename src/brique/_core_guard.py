"""On `import brique`: never import a compiled core module built from an older source.

`scripts/compile_core.py` (`make core`) writes `.core-built`: one line per compiled source (path,
SHA-256, mtime, size, its extension). Extensions are imported before the `.py` next to them, so if
any source moved since (or an extension is gone), the whole compiled set is imported from its
sources instead (calls between compiled modules are bound at build time: one module cannot be
swapped alone). Stats only; a hash only when a stat moved. Kept to `os` and `sys`: every CLI call
imports `brique`.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # what the stamp's paths are relative to (src/)
STAMP = os.path.join(HERE, ".core-built")


def read_stamp(package: str = HERE) -> list[tuple[str, str, int, int, str]]:
    """(source, sha256, mtime_ns, size, extension) per compiled module; [] without a (readable) stamp."""
    try:
        with open(os.path.join(package, ".core-built"), encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        return [(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in rows]
    except (OSError, ValueError, IndexError):
        return []


def write_stamp(sources: list[str], suffix: str, package: str = HERE) -> None:
    """The stamp `read_stamp` reads, for `sources` (paths under the package's parent) just compiled to
    extensions named with `suffix` (scripts/compile_core.py)."""
    root, lines = os.path.dirname(package), []
    for src in sources:
        path = os.path.join(root, src)
        st = os.stat(path)
        lines.append(f"{src}\t{sha256(path)}\t{st.st_mtime_ns}\t{st.st_size}\t{src[: -len('.py')]}{suffix}\n")
    with open(os.path.join(package, ".core-built"), "w", encoding="utf-8") as f:
        f.write("".join(lines))


def sha256(path: str) -> str | None:
    import hashlib  # only when a stat moved

    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def changed(root: str, stamp: list[tuple[str, str, int, int, str]]) -> list[str]:
    """Stamped sources whose content moved, or whose extension is gone."""
    out = []
    for src, sha, mtime, size, ext in stamp:
        path = os.path.join(root, src)
        try:
            st = os.stat(path)
            moved = (st.st_mtime_ns, st.st_size) != (mtime, size)
        except OSError:
            moved = True
        if (moved and sha256(path) != sha) or not os.path.exists(os.path.join(root, ext)):
            out.append(src)
    return out


class SourcesFirst:
    """A meta path finder: the compiled set's modules found as their `.py` sources."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        src = self.files.get(fullname)
        if src is None:
            return None
        from importlib.util import spec_from_file_location

        package = [os.path.dirname(src)] if os.path.basename(src) == "__init__.py" else None
        return spec_from_file_location(fullname, src, submodule_search_locations=package)


def extension_sources(package: str = HERE) -> list[str]:
    """The source path (as the stamp writes it) of every extension module under `package`, whether or not
    that source exists (`cycle.cpython-311-x86_64-linux-gnu.so` -> `brique/scheduler/cycle.py`)."""
    root = os.path.dirname(package)
    return [
        os.path.relpath(os.path.join(d, f.split(".", 1)[0] + ".py"), root).replace(os.sep, "/")
        for d, _, names in os.walk(package)
        for f in names
        if f.endswith(".so")
    ]


def module_name(src: str) -> str:
    parts = src[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def guard(package: str = HERE) -> bool:
    """True when the sources were put first (some source changed since `make core`)."""
    root = os.path.dirname(package)
    stamp = read_stamp(package)
    if stamp:
        if not changed(root, stamp):
            return False
        sources = [row[0] for row in stamp]
    else:  # extensions without their stamp: trust none of them (one listing when there are none)
        try:
            if not any(f.endswith(".so") for f in os.listdir(os.path.join(package, "scheduler"))):
                return False
        except OSError:
            return False
        sources = [s for s in extension_sources(package) if os.path.exists(os.path.join(root, s))]
    files = {module_name(s): os.path.join(root, s) for s in sources}
    if not any(isinstance(f, SourcesFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, SourcesFirst(files))
    return True
