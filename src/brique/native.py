"""Whether the scheduler core runs compiled (`make core`: mypyc extensions next to the sources).

The interpreter imports an extension module before the `.py` of the same name, so an extension
built from an older source would silently run old code. `scripts/compile_core.py` stamps the
SHA-256 of every source it compiled (`.core-built`); `status()` compares them with the sources.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
STAMP = PACKAGE / ".core-built"


@dataclass(frozen=True)
class CoreStatus:
    state: str  # "compiled", "interpreted" or "stale"
    modules: int  # compiled modules found
    stale: tuple[str, ...]  # sources edited (or extensions left) since the build

    def describe(self) -> str:
        if self.state == "compiled":
            return f"compiled core ({self.modules} modules, mypyc)"
        if self.state == "interpreted":
            return "interpreted core (run `make core` to compile it: about 2x faster simulations)"
        return f"STALE compiled core: {', '.join(self.stale[:5])} changed since `make core`; run it again"


def _extensions(package: Path) -> dict[str, Path]:
    """Every extension module under the package, by the relative path of its source."""
    found: dict[str, Path] = {}
    for p in package.rglob("*.so"):
        suffix = next((s for s in EXTENSION_SUFFIXES if p.name.endswith(s)), ".so")  # the longest first
        found[str(p.relative_to(package.parent))[: -len(suffix)] + ".py"] = p
    return found


def status(package: Path = PACKAGE) -> CoreStatus:
    """The state of the compiled core under `package` (default: the `brique` being run)."""
    built = _extensions(package)
    try:
        stamped: dict[str, str] = json.loads((package / STAMP.name).read_text())
    except (OSError, ValueError):
        stamped = {}
    if not built and not stamped:
        return CoreStatus("interpreted", 0, ())
    root = package.parent
    stale = sorted(
        {name for name in built if name not in stamped}  # an extension the build did not make
        | {name for name in stamped if name not in built}  # one it made, since removed
        | {name for name, sha in stamped.items() if _sha256(root / name) != sha}  # a source edited since
    )
    return CoreStatus("stale" if stale else "compiled", len(built), tuple(stale))


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
