"""Whether the scheduler core runs compiled (`make core`: mypyc extensions next to the sources).

`brique._core_guard` (run by `import brique`) makes sure an extension built from an older source
never runs: the sources are imported instead. `status()` tells which core runs, for the benchmarks,
`brique simulate` and the test suite's header.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from brique import _core_guard

PACKAGE = Path(_core_guard.HERE)


@dataclass(frozen=True)
class CoreStatus:
    state: str  # "compiled", "interpreted" or "stale" (the sources run instead of the extensions)
    modules: int  # extension modules found
    stale: tuple[str, ...]  # sources edited, or extensions added or removed, since the build

    def describe(self) -> str:
        if self.state == "compiled":
            return f"compiled core ({self.modules} modules, mypyc)"
        if self.state == "interpreted":
            return "interpreted core (run `make core` to compile it: about 2x faster simulations)"
        return (f"STALE compiled core ({', '.join(self.stale[:5])} changed since `make core`): "
                "its Python sources run instead; run `make core` again")  # fmt: skip


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
    stamp = _core_guard.read_stamp(str(package))
    if not built and not stamp:
        return CoreStatus("interpreted", 0, ())
    stale = set(_core_guard.changed(str(package.parent), stamp))
    stale |= {name for name in built if name not in {row[0] for row in stamp}}  # not made by the build
    return CoreStatus("stale" if stale else "compiled", len(built), tuple(sorted(stale)))
