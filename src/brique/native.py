"""Whether the scheduler core runs compiled (`make core`: mypyc extensions next to the sources).

`brique._core_guard` (run by `import brique`) makes sure an extension built from an older source
never runs: the sources are imported instead. `status()` tells which core runs, for the benchmarks,
`brique simulate` and the test suite's header.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def status(package: Path = PACKAGE) -> CoreStatus:
    """The state of the compiled core under `package` (default: the `brique` being run)."""
    built = _core_guard.extension_sources(str(package))
    stamp = _core_guard.read_stamp(str(package))
    if not built and not stamp:
        return CoreStatus("interpreted", 0, ())
    stale = set(_core_guard.changed(str(package.parent), stamp))
    stale |= set(built) - {row[0] for row in stamp}  # extensions the build did not make
    return CoreStatus("stale" if stale else "compiled", len(built), tuple(sorted(stale)))
